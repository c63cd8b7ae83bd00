#!/usr/bin/env node
// Runs the TypeScript sources through tsx, from any working directory.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../flower-adapter/src/main.ts');
await main();
