#!/usr/bin/env -S node --max-semi-space-size=2
// A small young generation keeps an FL node's resident memory down (~25 MB less while it
// trains) at no cost in training speed (bench/adapter-memory.ts).
import { load } from './launch.mjs';

const { main } = await load('flower-adapter/src/main.ts');
await main();
