// The submitIntent use case behind POST /receive: checks the YAML and the form fields, resolves
// the intent through the catalog, checks ipstart/cohortsize against the inventory, claims the
// intentID (409 while an earlier upload of it is still active), writes the record and queues the
// first step. It returns only once the intent is durable in Redis. Nothing here knows HTTP.

import type { Catalog } from '../intent/catalog.ts';
import { IntentError, parseIntentYaml } from '../../../common/intent/parse-intent.ts';
import { resolveIntent } from '../intent/resolve.ts';
import type { IntentRecord, IntentStore } from '../intent-store.ts';
import { type Inventory, selectByIpstart } from '../inventory.ts';
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

export async function submitIntent(
  deps: SubmitDeps,
  input: { yaml: string; fileName?: string; form: Record<string, string> },
): Promise<{ record: IntentRecord; warnings: string[] }> {
  const { intent, warnings } = parseIntentYaml(
    input.yaml,
    input.fileName === undefined ? {} : { fileName: input.fileName },
  );
  // Resolve once here to reject bad input before anything is queued; the id is fixed below.
  resolveIntent(intent, input.form, deps.catalog);
  const id = await deps.store.newId(intent.intentID);
  const resolved = resolveIntent({ ...intent, intentID: id }, input.form, deps.catalog);
  const { cohort } = resolved.pipeline;
  if (cohort.ipstart !== undefined) {
    selectByIpstart(deps.inventory, cohort.ipstart, cohort.cohortsize ?? resolved.pipeline.minav);
  } else if (cohort.cohortsize !== undefined && cohort.cohortsize > deps.inventory.clients().length) {
    throw new IntentError(422, [
      {
        path: 'form.cohortsize',
        message: `${cohort.cohortsize} clients asked for, but inventory ${deps.inventory.fileName} has ${deps.inventory.clients().length} fl-client nodes; allowed: at most ${deps.inventory.clients().length}`,
      },
    ]);
  }
  const holder = await deps.store.claim(intent.intentID, id);
  if (holder !== undefined) {
    throw new ConflictError(
      `intentID ${intent.intentID} is still active as intent ${holder}; allowed: a new intentID, or the same one after DELETE /intents/${holder} or once it has ended`,
    );
  }
  const now = new Date().toISOString();
  const record: IntentRecord = {
    id,
    intentID: intent.intentID,
    role: deps.role,
    state: 'accepted',
    stages: { accepted: now },
    warnings: [...warnings, ...resolved.warnings],
    yaml: input.yaml,
    form: input.form,
    pipeline: resolved.pipeline,
    derived: resolved.derived,
    clients: [],
    rounds: [],
    round: 0,
    numRounds: resolved.pipeline.numround,
    updatedAt: now,
  };
  try {
    await deps.store.create(record);
    await deps.orchestrator.enqueue('resolve', id);
  } catch (err) {
    // not queued: the upload is answered with an error, so the record must not run later either
    await deps.store
      .advance(id, 'failed', (r) => {
        r.error = `not queued: ${(err as Error).message}`;
      })
      .catch(() => undefined);
    await deps.store.release(intent.intentID, id).catch(() => undefined);
    throw err;
  }
  return { record, warnings: record.warnings };
}
