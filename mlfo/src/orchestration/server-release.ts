// What an edge MLFO does with the FL server of an intent that failed or was deleted: the cloud
// placed it and MoMo has no call to give it back, so the edge stops it over the server node's REST
// API, but only a server placed for one of its own intents (session srv-<derived id>) and only
// when no other active intent of its own runs on it (sameserv yes). Standalone and cloud MLFOs
// release through their ServerPlacement, which counts the cohorts sharing each server.

import type { AdapterClient } from '../adapter-client.ts';
import { type IntentRecord, type IntentStore, isTerminal } from '../intent-store.ts';
import { type Inventory, restUrl } from '../inventory.ts';
import { serverSessionId } from './server-placement.ts';

export function edgeServerRelease(deps: {
  store: IntentStore;
  inventory: Inventory;
  adapters: AdapterClient;
}): (rec: IntentRecord) => Promise<void> {
  return async (rec) => {
    const srv = rec.server;
    if (srv?.session === undefined) return;
    const records = await deps.store.list();
    const ours = records.some((r) => serverSessionId(r.derived.intentID) === srv.session);
    const stillUsed = records.some(
      (r) =>
        r.id !== rec.id &&
        !isTerminal(r.state) &&
        r.server?.address === srv.address &&
        (r.server.session === srv.session || r.server.session === undefined),
    );
    if (!ours || stillUsed) return;
    const ip = srv.address.slice(0, srv.address.lastIndexOf(':'));
    const node = deps.inventory.byAddress(ip);
    await deps.adapters.stop(node?.name ?? ip, restUrl(node ?? { address: ip, restPort: 5000 }), srv.session);
  };
}
