#!/usr/bin/env node
// Runs the topology CLI from its TypeScript source through tsx. Unlike bin/mlfo.mjs it does not go
// through launch.mjs's load(): the dist/ build covers flower-adapter/src and mlfo/src only, so a
// "fresh" dist/ would have no topology/src/cli.js.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../topology/src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
