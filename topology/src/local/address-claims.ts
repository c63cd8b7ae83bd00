// Machine-wide reservation of 127.K blocks, so two local runs (of the same topology, too) never get
// the same addresses even before their programs listen. A claim is a file `<K>.json` in the claims
// directory (`$MLFO_LOCAL_CLAIMS_DIR`, default <tmpdir>/mlfo-local-blocks) naming the run and its
// run directory; claims are taken and released under one lock. A claim whose run is over (run
// directory gone, run stopped or failed, or still 'starting' with its starter gone) is stale
// and is reused. A run that crashed while up keeps its block until cleanLocalRun.

import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIRST_BLOCK, LAST_BLOCK } from './address-map.ts';
import { withFileLock } from './file-lock.ts';
import { pidExists } from '../proc.ts';
import { readLocalState } from './state.ts';

export interface BlockClaim {
  block: number;
  runId: string;
  runDir: string;
  pid: number;
}

export function claimsDirectory(): string {
  return process.env.MLFO_LOCAL_CLAIMS_DIR ?? join(tmpdir(), 'mlfo-local-blocks');
}

/**
 * Creates the claims directory shared by every user of the machine (sticky and world-writable,
 * as /tmp: anyone may claim, only a claim's owner may remove it); throws when it is not writable.
 */
function ensureClaimsDirectory(): string {
  const dir = claimsDirectory();
  mkdirSync(dir, { recursive: true });
  const st = statSync(dir);
  if (st.uid === process.getuid?.() && (st.mode & 0o7777) !== 0o1777) chmodSync(dir, 0o1777);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(
      `the local backend's address claims directory ${dir} is not writable by this user; ` +
        `its owner (uid ${st.uid}) can make it shared with \`chmod 1777 ${dir}\`, or set MLFO_LOCAL_CLAIMS_DIR ` +
        "(runs of different users then no longer see each other's claims)",
    );
  }
  return dir;
}

function claimFile(dir: string, block: number): string {
  return join(dir, `${block}.json`);
}

/** Why the claim no longer holds, or undefined while its run may use the block. */
function staleReason(claim: BlockClaim): string | undefined {
  let state: ReturnType<typeof readLocalState>;
  try {
    state = readLocalState(claim.runDir);
  } catch (err) {
    return (err as Error).message;
  }
  if (!state) return `no state in ${claim.runDir}`;
  if (state.runId !== claim.runId) return `${claim.runDir} now holds run ${state.runId}`;
  if (state.phase === 'stopped' || state.phase === 'failed') return `run ${claim.runId} is ${state.phase}`;
  if (state.phase === 'starting' && !pidExists(state.ownerPid)) return `starter of ${claim.runId} is gone`;
  return undefined;
}

function readClaims(dir: string): BlockClaim[] {
  const out: BlockClaim[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)\.json$/.exec(name);
    if (!m) continue;
    try {
      const c = JSON.parse(readFileSync(join(dir, name), 'utf8')) as BlockClaim;
      out.push({ ...c, block: Number(m[1]) });
    } catch {
      // torn or foreign: treat as a claim of nobody, which is stale
      out.push({ block: Number(m[1]), runId: '', runDir: '', pid: 0 });
    }
  }
  return out;
}

/**
 * Claims the first block in FIRST_BLOCK–LAST_BLOCK that no live run holds and for which
 * `unusable(K)` returns undefined (else the reason, e.g. addresses already listening).
 */
export function claimBlock(
  run: { runId: string; runDir: string },
  unusable: (block: number) => string | undefined,
): { block: number; claim: string } {
  const dir = ensureClaimsDirectory();
  return withFileLock(join(dir, '.lock'), () => {
    const held = new Map<number, BlockClaim>();
    for (const c of readClaims(dir)) {
      if (staleReason(c) === undefined) {
        held.set(c.block, c);
        continue;
      }
      try {
        rmSync(claimFile(dir, c.block), { force: true });
      } catch {
        held.set(c.block, c); // another user's stale claim: only they (or root) may remove it
      }
    }
    const refused: string[] = [];
    for (let block = FIRST_BLOCK; block <= LAST_BLOCK; block++) {
      if (held.has(block)) continue;
      const why = unusable(block);
      if (why !== undefined) {
        refused.push(`127.${block}: ${why}`);
        continue;
      }
      const file = claimFile(dir, block);
      const claim: BlockClaim = { block, runId: run.runId, runDir: run.runDir, pid: process.pid };
      writeFileSync(file, `${JSON.stringify(claim)}\n`);
      return { block, claim: file };
    }
    const runs = [...held.values()].map((c) => `${c.runId} (127.${c.block}, ${c.runDir})`);
    throw new Error(
      `no free address block 127.${FIRST_BLOCK}–127.${LAST_BLOCK} for run ${run.runId}: ` +
        `${held.size} held by runs that are up (${runs.slice(0, 5).join(', ')}${runs.length > 5 ? ', …' : ''}), ` +
        `${refused.length} with addresses already in use (${refused.slice(0, 3).join('; ')}${refused.length > 3 ? '; …' : ''}). ` +
        'Stop or clean runs you no longer need (mlfo-topo down / clean).',
    );
  });
}

/** Removes the claim of `block` if `runId` holds it; true when it was removed. */
export function releaseBlock(claim: string, runId: string): boolean {
  const dir = join(claim, '..');
  if (!existsSync(claim)) return false;
  return withFileLock(join(dir, '.lock'), () => {
    let held: BlockClaim;
    try {
      held = JSON.parse(readFileSync(claim, 'utf8')) as BlockClaim;
    } catch {
      return false;
    }
    if (held.runId !== runId) return false;
    rmSync(claim, { force: true });
    return true;
  });
}
