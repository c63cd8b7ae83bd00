#!/usr/bin/env node
import { load } from './launch.mjs';

const { main } = await load('mlfo/src/main.ts');
await main();
