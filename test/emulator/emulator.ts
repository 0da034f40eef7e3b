// Starts a whole emulator in-process: FE, one or more BEs, the MySQL-protocol query port and the
// optional control port, all sharing one Engine. Tests use this with port 0 (ephemeral ports).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBeServer } from './be-server.ts';
import { createControlServer } from './control-server.ts';
import { DEFAULT_ENGINE_CONFIG, Engine, type EngineConfig } from './engine.ts';
import { createFeServer } from './fe-server.ts';
import { createQueryServer } from './query-server.ts';
import { Storage, type StorageConfig } from './storage.ts';

export interface EmulatorOptions extends Partial<EngineConfig> {
  host?: string;
  fePort?: number;
  /** One entry per BE; 0 = ephemeral. Default one BE. */
  bePorts?: number[];
  queryPort?: number;
  /** undefined = no control port; 0 = ephemeral. */
  controlPort?: number | undefined;
  /** Without storage the emulator validates but keeps no rows (mode full acts as validate). */
  mysql?: StorageConfig | undefined;
  /** Doris DDL texts to load at start. */
  ddl?: string[];
}

export interface Emulator {
  engine: Engine;
  fePort: number;
  bePorts: number[];
  queryPort: number;
  controlPort: number | undefined;
  close(): Promise<void>;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const config: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, host };
  for (const k of Object.keys(DEFAULT_ENGINE_CONFIG) as (keyof EngineConfig)[]) {
    if (opts[k] !== undefined) (config as unknown as Record<string, unknown>)[k] = opts[k];
  }
  const storage = opts.mysql ? new Storage(opts.mysql) : undefined;
  const engine = new Engine(config, storage);
  try {
    await storage?.ping();
    for (const ddl of opts.ddl ?? []) await engine.addDdl(ddl);
    await engine.init();
  } catch (e) {
    await storage?.close();
    throw e;
  }
  const bes = (opts.bePorts ?? [0]).map(() => createBeServer(engine));
  const fe = createFeServer(engine);
  const query = createQueryServer(engine);
  const control = opts.controlPort === undefined ? undefined : createControlServer(engine);
  const bePorts: number[] = [];
  for (let i = 0; i < bes.length; i++) bePorts.push(await listen(bes[i]!, opts.bePorts?.[i] ?? 0, host));
  engine.bePorts = bePorts;
  const fePort = await listen(fe.server, opts.fePort ?? 0, host);
  const queryPort = await query.listen(opts.queryPort ?? 0, host);
  const controlPort = control ? await listen(control, opts.controlPort ?? 0, host) : undefined;
  // The txn manager's periodic work: label expiry and precommit / load timeouts.
  const ticker = setInterval(() => engine.txns.tick(Date.now()), 200);
  ticker.unref();
  return {
    engine,
    fePort,
    bePorts,
    queryPort,
    controlPort,
    async close() {
      clearInterval(ticker);
      await Promise.all([
        ...bes.map(closeServer),
        closeServer(fe.server),
        query.close(),
        control ? closeServer(control) : Promise.resolve(),
      ]);
      await fe.closeExtras();
      await Promise.all([...engine.groups.values()].map((g) => g.done));
      await storage?.close();
    },
  };
}
