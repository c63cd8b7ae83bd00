// MLFO configuration: command-line flags first, then MLFO_* environment variables, then defaults.
// readConfig only reads and checks values; main.ts wires the service from the result.

import { parseArgs } from 'node:util';

export type MlfoRole = 'edge' | 'cloud' | 'standalone';
export const ROLES: readonly MlfoRole[] = ['edge', 'cloud', 'standalone'];

export const USAGE = `usage: mlfo --role edge|cloud|standalone --inventory FILE [options]
  --role            edge (intent API, clients), cloud (MoMo, FL servers) or standalone (both)   env MLFO_ROLE
  --host            address to bind the intent API and MoMo to (default 127.0.0.1)                env MLFO_HOST
  --intent-port     intent REST API port (default 8000)                                           env MLFO_INTENT_PORT
  --momo-port       MoMo gRPC port, served by cloud and standalone (default 9000)                  env MLFO_MOMO_PORT
  --redis           Redis URL (default redis://127.0.0.1:6379)                                    env MLFO_REDIS
  --inventory       nodes this MLFO may use (YAML)                                                 env MLFO_INVENTORY
  --parent          the cloud MLFO's MoMo address host:9000 (edge only)                            env MLFO_PARENT
  --catalog         operand catalog (default intents/catalog.yaml)                                 env MLFO_CATALOG
  --prefix          prefix of Redis keys and queue names (default mlfo)                            env MLFO_PREFIX
  --step-attempts   tries per orchestration step before the intent fails (default 8)               env MLFO_STEP_ATTEMPTS
  --step-backoff-ms first retry delay, doubled each try (default 1000)                             env MLFO_STEP_BACKOFF_MS
  --lock-ms         BullMQ job lock; a killed MLFO's jobs resume after about this long (default 30000)  env MLFO_LOCK_MS
  --poll-ms         how often training is polled on the adapters (default 1000)                    env MLFO_POLL_MS
  --adapter-timeout-ms  timeout of one REST call to a flower-adapter (default 10000)               env MLFO_ADAPTER_TIMEOUT_MS
  --server-wait-s   how long an FL server waits for its clients / one round (default 600)          env MLFO_SERVER_WAIT_S
  MLFO_API_TOKEN    when set, POST /receive, DELETE /intents/:id and POST /cloudreset need "Authorization: Bearer <token>"`;

export interface MlfoConfig {
  role: MlfoRole;
  host: string;
  intentPort: number;
  momoPort: number;
  redisUrl: string;
  inventoryFile: string;
  parent?: string;
  catalogFile: string;
  prefix: string;
  apiToken?: string;
  stepAttempts: number;
  stepBackoffMs: number;
  lockMs: number;
  pollMs: number;
  adapterTimeoutMs: number;
  serverWaitS: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function int(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) {
    throw new ConfigError(`--${flag}: got ${JSON.stringify(text)}; allowed: an integer in [${min}, ${max}]`);
  }
  return n;
}

export function readConfig(argv: string[], env: NodeJS.ProcessEnv): MlfoConfig | 'help' {
  const flags = [
    'role',
    'host',
    'intent-port',
    'momo-port',
    'redis',
    'inventory',
    'parent',
    'catalog',
    'prefix',
    'step-attempts',
    'step-backoff-ms',
    'lock-ms',
    'poll-ms',
    'adapter-timeout-ms',
    'server-wait-s',
  ] as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])),
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values['help'] === true) return 'help';
  const get = (flag: (typeof flags)[number]): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string' && v !== '') return v;
    const e = env[`MLFO_${flag.toUpperCase().replaceAll('-', '_')}`];
    return e === undefined || e === '' ? undefined : e;
  };
  const role = get('role');
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) {
    throw new ConfigError(
      `--role: got ${JSON.stringify(role ?? '')}; allowed: ${ROLES.join(', ')}\n${USAGE}`,
    );
  }
  const inventoryFile = get('inventory');
  if (inventoryFile === undefined) {
    throw new ConfigError(`--inventory: missing; give the YAML file that lists the nodes\n${USAGE}`);
  }
  const parent = get('parent');
  if (role === 'edge' && parent === undefined) {
    throw new ConfigError('--parent: an edge MLFO needs its cloud MLFO MoMo address, e.g. 10.0.0.1:9000');
  }
  if (parent !== undefined && !/^[^\s:]+:\d{1,5}$/.test(parent)) {
    throw new ConfigError(`--parent: got ${JSON.stringify(parent)}; allowed: host:port, e.g. 10.0.0.1:9000`);
  }
  const prefix = get('prefix') ?? 'mlfo';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError(
      `--prefix: got ${JSON.stringify(prefix)}; allowed: 1–64 letters, digits, '_', '.', '-' (no ':')`,
    );
  }
  const cfg: MlfoConfig = {
    role: role as MlfoRole,
    host: get('host') ?? '127.0.0.1',
    intentPort: int('intent-port', get('intent-port') ?? '8000', 0, 65535),
    momoPort: int('momo-port', get('momo-port') ?? '9000', 0, 65535),
    redisUrl: get('redis') ?? 'redis://127.0.0.1:6379',
    inventoryFile,
    catalogFile: get('catalog') ?? 'intents/catalog.yaml',
    prefix,
    stepAttempts: int('step-attempts', get('step-attempts') ?? '8', 1, 100),
    stepBackoffMs: int('step-backoff-ms', get('step-backoff-ms') ?? '1000', 1, 600_000),
    lockMs: int('lock-ms', get('lock-ms') ?? '30000', 1000, 600_000),
    pollMs: int('poll-ms', get('poll-ms') ?? '1000', 10, 60_000),
    adapterTimeoutMs: int('adapter-timeout-ms', get('adapter-timeout-ms') ?? '10000', 100, 600_000),
    serverWaitS: int('server-wait-s', get('server-wait-s') ?? '600', 1, 86_400),
  };
  if (parent !== undefined) cfg.parent = parent;
  const token = env['MLFO_API_TOKEN'];
  if (token !== undefined && token !== '') cfg.apiToken = token;
  return cfg;
}
