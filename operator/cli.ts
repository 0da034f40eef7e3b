// doris-sinker-operator: turns DorisSink resources into sinker Deployments, tracks schema and lag,
// scales on lag. Runs the controller only while holding the leader Lease (when --leader-elect).
// Loaded by main.ts once the Node version is known to be good.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import pkg from '../package.json' with { type: 'json' };
import type { LogConfig } from '../sinker/config/types.ts';
import { startStatusServer } from '../sinker/http-server.ts';
import { loggerOptions, logProcessWarnings } from '../sinker/logger.ts';
import { parseDuration } from './api/units.ts';
import { Controller } from './controller/controller.ts';
import { kubeLeaseStore, LeaderElector } from './controller/leader.ts';
import { OperatorMetrics } from './controller/metrics.ts';

// Flags default from the environment the Helm chart sets (templates/deployment.yaml).
const USAGE = `doris-sinker-operator [flags]
  --sinker-image IMAGE      sinker image for sinks without spec.image (env SINKER_IMAGE)
  --namespaces NS[,NS]      watch these namespaces (env WATCH_NAMESPACES; default: all)
  --metrics-host HOST       listen address of /metrics, /healthz, /readyz (default: every address, IPv6 and IPv4)
  --metrics-port PORT       (env HTTP_PORT; default 8080; 0 = any free port)
  --leader-elect            run the controller only while holding the Lease (env LEADER_ELECTION=true)
  --lease-name NAME         (env LEADER_ELECTION_LEASE; default doris-sinker-operator)
  --lease-namespace NS      (env LEADER_ELECTION_NAMESPACE or POD_NAMESPACE; default default)
  --lease-duration D        (default 15s)   --renew-deadline D (default 10s)   --retry-period D (default 2s)
  --identity ID             leader identity (env POD_NAME; default host-pid)
  --workers N               concurrent reconciles (default 4)
  --idle-timeout D          relist a watch silent this long (default 90s); /healthz fails after twice that
  --relist-interval D       full relist period (default 10m)
  --secret-resync D         longest time between two reconciles of a sink, each re-reading the Secrets it
                            references: a rotated Secret rolls the pods within this + --secret-cache-ttl
                            (default 1m; Secrets are read by name, never watched)
  --secret-cache-ttl D      how long a Secret read is reused (default 30s)
  --log-level LEVEL         (env LOG_LEVEL; default info)
  --version, --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'sinker-image': { type: 'string', default: process.env.SINKER_IMAGE ?? `doris-sinker:${pkg.version}` },
      namespaces: { type: 'string', default: process.env.WATCH_NAMESPACES ?? process.env.WATCH_NAMESPACE ?? '' },
      'metrics-host': { type: 'string', default: '' },
      'metrics-port': { type: 'string', default: process.env.HTTP_PORT || '8080' },
      'leader-elect': { type: 'boolean', default: process.env.LEADER_ELECTION === 'true' },
      'lease-name': { type: 'string', default: process.env.LEADER_ELECTION_LEASE || 'doris-sinker-operator' },
      'lease-namespace': {
        type: 'string',
        default: process.env.LEADER_ELECTION_NAMESPACE || process.env.POD_NAMESPACE || 'default',
      },
      'lease-duration': { type: 'string', default: '15s' },
      'renew-deadline': { type: 'string', default: '10s' },
      'retry-period': { type: 'string', default: '2s' },
      workers: { type: 'string', default: '4' },
      'idle-timeout': { type: 'string', default: '90s' },
      'relist-interval': { type: 'string', default: '10m' },
      'secret-resync': { type: 'string', default: '1m' },
      'secret-cache-ttl': { type: 'string', default: '30s' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL || 'info' },
      identity: { type: 'string', default: process.env.POD_NAME ?? `${hostname()}-${process.pid}` },
      version: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(`doris-sinker-operator ${pkg.version}`);
    return;
  }
  const ms = (flag: keyof typeof values) => parseDuration(String(values[flag]), `--${flag}`) * 1000;
  // The sinker's options: level names, ISO times and its redaction of passwords and credentials.
  const log = pino(
    loggerOptions(
      { level: values['log-level'] as LogConfig['level'] },
      { component: 'operator', identity: values.identity },
    ),
  );
  logProcessWarnings(log);
  const logFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
    log[level](fields ?? {}, msg);

  const kc = new KubeConfig();
  kc.loadFromDefault();
  const metrics = new OperatorMetrics();
  const idleTimeoutMs = ms('idle-timeout');
  // One controller per watched namespace (RBAC may be granted per namespace), or one for all.
  const namespaces = values.namespaces
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const controllers = (namespaces.length > 0 ? namespaces : ['']).map(
    (namespace) =>
      new Controller({
        kc,
        namespace,
        defaultImage: values['sinker-image'],
        workers: Number(values.workers),
        identity: values.identity,
        metrics,
        log: logFn,
        idleTimeoutMs,
        relistIntervalMs: ms('relist-interval'),
        secretResyncMs: ms('secret-resync'),
        secretCacheTtlMs: ms('secret-cache-ttl'),
        backoffMaxMs: 10_000,
      }),
  );
  const startAll = () => Promise.all(controllers.map((c) => c.start()));
  const health = () => controllers.flatMap((c) => c.health());
  metrics.setSources(health, () => controllers.reduce((n, c) => n + c.queue.len(), 0));
  let leading = !values['leader-elect'];
  const staleMs = idleTimeoutMs * 2;
  const server = await startStatusServer({
    ...(values['metrics-host'] ? { host: values['metrics-host'] } : {}),
    port: Number(values['metrics-port']),
    metricsPath: '/metrics',
    registry: metrics.registry,
    liveness: [
      {
        name: 'watches',
        check: () => {
          if (!leading) return undefined;
          const bad = health()
            .filter((h) => !h.synced || h.sinceHeardMs > staleMs)
            .map((h) => `${h.name} ${h.synced ? `silent for ${Math.round(h.sinceHeardMs / 1000)} s` : 'not synced'}`);
          return bad.length > 0 ? bad.join(', ') : undefined;
        },
      },
    ],
    readiness: [],
  });
  log.info({ port: server.port }, 'status server listening');

  let elector: LeaderElector | undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await Promise.all(controllers.map((c) => c.stop().catch(() => {})));
    await elector?.stop();
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  if (!values['leader-elect']) {
    // A single instance without election is the leader (the operator_leader alert counts on it).
    metrics.leader.set(1);
    await startAll();
    return;
  }
  elector = new LeaderElector({
    identity: values.identity,
    store: kubeLeaseStore(kc.makeApiClient(CoordinationV1Api), values['lease-namespace'], values['lease-name']),
    leaseDurationMs: ms('lease-duration'),
    renewDeadlineMs: ms('renew-deadline'),
    retryPeriodMs: ms('retry-period'),
    onStartedLeading: () => {
      leading = true;
      metrics.leader.set(1);
      log.info('became leader');
      startAll().catch((err) => {
        log.error({ err: (err as Error).message }, 'controller failed to start');
        process.exit(1);
      });
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      // Another process may already be reconciling: stop at once, never act as a stale leader.
      log.error('lost leadership; exiting');
      process.exit(1);
    },
    log: (msg, err) => log.warn({ err: (err as Error | undefined)?.message }, msg),
  });
  log.info({ lease: `${values['lease-namespace']}/${values['lease-name']}` }, 'campaigning for leadership');
  await elector.run();
}

main().catch((err) => {
  console.error(`doris-sinker-operator: ${(err as Error).message}`);
  process.exit(1);
});
