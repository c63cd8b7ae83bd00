#!/usr/bin/env node
// The sendintent CLI (intents/src/sendintent.ts). It always runs from source through tsx: dist/
// holds only the long-running node programs (mlfo, flower-adapter), and a CLI's start-up cost
// does not matter.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../intents/src/sendintent.ts');
process.exitCode = await main(process.argv.slice(2));
