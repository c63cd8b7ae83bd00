// The submitIntent use case behind POST /receive: checks the YAML and the form fields, resolves
// the intent through the catalog (once), checks ipstart/cohortsize against the inventory, and
// takes the upload's identity (its intentID and the cohort it targets) and, for an ipstart cohort,
// the client nodes. A repeated upload of an intent for the same cohort is answered with the
// deployment already running (nothing starts); one whose nodes are held by another active intent
// is a conflict naming them. It writes the record and queues the first step, and returns only once
// the intent is durable in Redis. Nothing here knows HTTP.

import type { Catalog } from '../intent/catalog.ts';
import { IntentError, parseIntentYaml } from '../../../common/intent/parse-intent.ts';
import {
  DEPLOYMENT_SETTINGS,
  pipelineDifferences,
  SERVER_SETTINGS,
  SHARING_BASIS,
} from '../intent/pipeline-diff.ts';
import { forDeployment, type ResolvedPipeline, resolveIntent } from '../intent/resolve.ts';
import {
  type ClientRecord,
  cohortKey,
  type IntentRecord,
  type IntentStore,
  isTerminal,
} from '../intent-store.ts';
import { type Inventory, type InventoryNode, selectByIpstart } from '../inventory.ts';
import type { Orchestrator } from '../orchestration/orchestrator.ts';

export class ConflictError extends Error {
  override name = 'ConflictError';
  readonly status = 409;
}

export interface SubmitDeps {
  catalog: Catalog;
  inventory: Inventory;
  store: IntentStore;
  orchestrator: Orchestrator;
  role: string;
}

export interface Submitted {
  record: IntentRecord;
  warnings: string[];
  /** true when the upload repeated an active deployment, which is answered as it is */
  repeated: boolean;
}

export async function submitIntent(
  deps: SubmitDeps,
  input: { yaml: string; fileName?: string; form: Record<string, string> },
): Promise<Submitted> {
  const { intent, warnings } = parseIntentYaml(
    input.yaml,
    input.fileName === undefined ? {} : { fileName: input.fileName },
  );
  const resolved = resolveIntent(intent, input.form, deps.catalog);
  const { cohort } = resolved.pipeline;
  const size = cohort.cohortsize ?? resolved.pipeline.minav;
  const nodes = chooseNodes(deps.inventory, cohort.ipstart, size);
  const identity = cohortKey(intent.intentID, { ...cohort, size });
  return deps.store.intake(async () => {
    const existing = await deps.store.activeHolder(identity);
    if (existing !== undefined) return repeatOf(existing, resolved.pipeline);
    const sharesServerWith = await sharedServerCheck(deps.store, resolved.pipeline);
    const id = await deps.store.newId(intent.intentID);
    const holder = await deps.store.claim(identity, id);
    if (holder !== undefined) {
      throw new ConflictError(
        `intent ${holder} holds ${identity} (the same intentID for the same cohort); allowed: DELETE /intents/${holder} first`,
      );
    }
    const clients = nodes === undefined ? [] : await claimNodes(deps.store, id, nodes, identity);
    const now = new Date().toISOString();
    const record: IntentRecord = {
      id,
      intentID: intent.intentID,
      cohortKey: identity,
      role: deps.role,
      state: 'accepted',
      stages: { accepted: now },
      warnings: [...warnings, ...resolved.warnings],
      yaml: input.yaml,
      form: input.form,
      ...forDeployment(resolved.pipeline, id),
      clients,
      rounds: [],
      round: 0,
      numRounds: resolved.pipeline.numround,
      updatedAt: now,
      ...(sharesServerWith.length > 0 ? { sharesServerWith } : {}),
    };
    try {
      await deps.store.create(record);
      await deps.orchestrator.enqueue('lease', id);
    } catch (err) {
      // not queued: the upload is answered with an error, so the record must not run later either
      await deps.store
        .advance(id, 'failed', (r) => {
          r.error = `not queued: ${(err as Error).message}`;
        })
        .catch(() => undefined);
      await deps.store.releaseClients(id, nodes?.map((n) => n.name) ?? []).catch(() => undefined);
      await deps.store.release(identity, id).catch(() => undefined);
      throw err;
    }
    return { record, warnings: record.warnings, repeated: false };
  });
}

/** The client nodes of an ipstart cohort (known now); undefined when free nodes are leased later. */
function chooseNodes(inv: Inventory, ipstart: number | undefined, size: number): InventoryNode[] | undefined {
  if (ipstart !== undefined) return selectByIpstart(inv, ipstart, size);
  if (size > inv.clients().length) {
    throw new IntentError(422, [
      {
        path: 'form.cohortsize',
        message: `${size} clients asked for, but inventory ${inv.fileName} has ${inv.clients().length} fl-client nodes; allowed: at most ${inv.clients().length}`,
      },
    ]);
  }
  return undefined;
}

/** A repeat of an active deployment: the same one when every setting agrees, else a conflict. */
function repeatOf(existing: IntentRecord, mine: ResolvedPipeline): Submitted {
  const diff = pipelineDifferences(mine, existing.pipeline, DEPLOYMENT_SETTINGS);
  if (diff.length > 0) {
    throw new ConflictError(
      `intent ${existing.id} (intentID ${existing.intentID}) is active on the same cohort with other settings: ${diff.join(', ')}; ` +
        `allowed: the same settings (answered with ${existing.id}), another client range, or DELETE /intents/${existing.id} first`,
    );
  }
  return { record: existing, warnings: existing.warnings, repeated: true };
}

/** Leases an ipstart cohort's nodes to intent id, all or none; a node held by an active intent is a conflict. */
async function claimNodes(
  store: IntentStore,
  id: string,
  nodes: InventoryNode[],
  identity: string,
): Promise<ClientRecord[]> {
  let busy: Map<string, string[]>;
  try {
    busy = await store.claimClients(
      id,
      nodes.map((n) => n.name),
    );
  } catch (err) {
    await store.release(identity, id);
    throw err;
  }
  if (busy.size > 0) {
    await store.release(identity, id);
    const held = [...busy].map(([holder, names]) => `${names.join(', ')} (held by intent ${holder})`);
    throw new ConflictError(
      `client nodes ${held.join('; ')} belong to an active intent; allowed: a client range free of active intents (another ipstart), or DELETE the holder first`,
    );
  }
  return nodes.map((n, part) => ({
    node: n.name,
    address: n.address,
    part,
    session: `cli-${id}-p${part}`.slice(0, 128),
    state: 'pending',
  }));
}

/**
 * sameserv yes: the active intents whose FL server this one will share (same dataset, model,
 * strategy and server settings). One of the same dataset, model and strategy that runs with other
 * server settings is a 422 naming them: a shared server runs with one set of settings.
 */
async function sharedServerCheck(store: IntentStore, mine: ResolvedPipeline): Promise<string[]> {
  if (mine.sameserv !== 'yes') return [];
  const active = (await store.list()).filter(
    (r) => !isTerminal(r.state) && pipelineDifferences(mine, r.pipeline, SHARING_BASIS).length === 0,
  );
  for (const r of active) {
    const diff = pipelineDifferences(mine, r.pipeline, SERVER_SETTINGS);
    if (diff.length === 0) continue;
    const path =
      mine.settingsSource.sameserv === 'intent'
        ? 'targets[0].constraints.sameserv'
        : mine.settingsSource.sameserv === 'form'
          ? 'form.sameserver'
          : mine.catalogFile;
    throw new IntentError(422, [
      {
        path,
        message:
          `sameserv yes would share the FL server of intent ${r.id} (${mine.source}, ${mine.model}, ${mine.algo}), ` +
          `but this upload differs in ${diff.join(', ')}; allowed: the server settings of the cohorts it joins ` +
          '(minfit and minav count the clients of every cohort on the shared server), or sameserver no',
      },
    ]);
  }
  return active.map((r) => r.id);
}
