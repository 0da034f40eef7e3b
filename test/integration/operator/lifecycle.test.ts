// Operator processes against the real apiserver: two candidates, one leader, the other takes over
// when the leader is killed; and the watches catch up after the apiserver restarts mid-watch.
// test-lane: exclusive (stops and restarts the test bed's apiserver and etcd)
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import { Controller } from '../../../operator/controller/controller.ts';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import { testbed } from '../../support/testbed.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  quietLog,
  ROOT,
  waitFor,
} from './support.ts';

let kc: KubeConfig;
let ns: string;
const children: ChildProcess[] = [];

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'lifecycle');
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (ns) await deleteNamespace(kc, ns);
});

function restartedOnce(c: Controller): true | undefined {
  return c.health().some((x) => x.restarts > 0) || undefined;
}

function sink(name: string): DorisSink {
  const s = minimalSink(name, ns);
  delete s.metadata.uid;
  delete s.metadata.generation;
  s.spec.kafka.brokers = ['127.0.0.1:1'];
  s.spec.schema = { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] };
  return s;
}

interface OperatorProcess {
  child: ChildProcess;
  /** Resolves to the port of /healthz and /metrics once the process logs it. */
  port: Promise<number>;
}

const ELECTION = ['--leader-elect', '--lease-duration=4s', '--renew-deadline=3s', '--retry-period=500ms'];

function startOperator(identity: string, flags: string[] = ELECTION): OperatorProcess {
  const child = spawn(
    join(ROOT, 'node_modules/.bin/node'),
    [
      join(ROOT, 'operator/main.ts'),
      ...flags,
      `--namespaces=${ns}`,
      `--lease-namespace=${ns}`,
      '--metrics-port=0',
      '--metrics-host=127.0.0.1',
      `--identity=${identity}`,
    ],
    { env: { ...process.env, KUBECONFIG: testbed('KUBECONFIG') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const port = new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /"port":(\d+),"msg":"status server listening"/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`operator ${identity} exited before listening`)));
  });
  port.catch(() => {});
  return { child, port };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

async function holder(): Promise<string | undefined> {
  const lease = await kc
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ namespace: ns, name: 'doris-sinker-operator' })
    .catch(() => undefined);
  return lease?.spec?.holderIdentity || undefined;
}

test('two operators: one leader reconciles; killing it hands over to the other', async () => {
  const a = startOperator('op-a');
  const b = startOperator('op-b');
  const first = await waitFor('a leader', holder, 30_000);
  assert.ok(first === 'op-a' || first === 'op-b');
  await createSink(kc, sink('one'));
  await waitFor(
    'leader reconciles',
    async () => ((await getSink(kc, ns, 'one')).status?.observedGeneration === 1 ? true : undefined),
    30_000,
  );
  // the standby does not take over while the leader renews
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await holder(), first);

  const [leader, standby] = first === 'op-a' ? [a, b] : [b, a];
  // the leader's endpoints: healthy watches, leader gauge 1, per-sink metrics; the standby is healthy but not leading
  const leaderPort = await leader.port;
  const health = await get(leaderPort, '/healthz');
  assert.equal(health.status, 200, health.body);
  const metrics = (await get(leaderPort, '/metrics')).body;
  assert.match(metrics, /^doris_sinker_operator_leader 1$/m);
  assert.match(
    metrics,
    new RegExp(`^doris_sinker_operator_sink_desired_replicas\\{namespace="${ns}",sink="one"\\} 1$`, 'm'),
  );
  assert.match(metrics, /^doris_sinker_operator_reconcile_total\{result="success"\} [1-9]/m);
  const standbyPort = await standby.port;
  assert.equal((await get(standbyPort, '/healthz')).status, 200);
  assert.match((await get(standbyPort, '/metrics')).body, /^doris_sinker_operator_leader 0$/m);

  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  const second = await waitFor(
    'takeover',
    async () => {
      const h = await holder();
      return h && h !== first ? h : undefined;
    },
    30_000,
  );
  const tookMs = Date.now() - killedAt;
  assert.ok(tookMs >= 3000, `takeover after ${tookMs} ms must wait out the 4 s lease`);
  assert.equal(second, first === 'op-a' ? 'op-b' : 'op-a');
  await createSink(kc, sink('two'));
  await waitFor(
    'new leader reconciles',
    async () => ((await getSink(kc, ns, 'two')).status?.observedGeneration === 1 ? true : undefined),
    30_000,
  );
  assert.equal(standby.child.exitCode, null, 'new leader still running');
  assert.match((await get(standbyPort, '/metrics')).body, /^doris_sinker_operator_leader 1$/m);
  standby.child.kill('SIGTERM');
});

test('the controller catches up after the apiserver restarts mid-watch', async () => {
  const controller = new Controller({
    kc,
    namespace: ns,
    defaultImage: 'doris-sinker:test',
    identity: 'restart-test',
    metrics: new OperatorMetrics(),
    log: quietLog(),
    backoffMaxMs: 2000,
    idleTimeoutMs: 20_000,
  });
  try {
    await controller.start();
    await createSink(kc, sink('before'));
    await waitFor('reconciled before restart', async () =>
      (await getSink(kc, ns, 'before')).status?.observedGeneration === 1 ? true : undefined,
    );
    const infra = (cmd: string) => {
      const r = spawnSync('bash', [join(ROOT, 'test/infra', cmd), 'k8s'], { encoding: 'utf8', timeout: 180_000 });
      assert.equal(r.status, 0, `test/infra/${cmd} k8s: ${r.stderr}`);
    };
    // an operator process whose /healthz must fail while its watches are stale (2 × 2 s idle timeout)
    const proc = startOperator('health', ['--idle-timeout=2s']);
    const port = await proc.port;
    await waitFor('healthy before the outage', async () =>
      (await get(port, '/healthz')).status === 200 ? true : undefined,
    );
    infra('down');
    // while it is down, the watches fail and restart with backoff (they do not just stop)
    await waitFor('the informers to notice the outage', () => restartedOnce(controller), 30_000);
    const sick = await waitFor('/healthz failing', async () => {
      const r = await get(port, '/healthz');
      return r.status === 503 ? r : undefined;
    });
    assert.match(sick.body, /watches: .*(silent for \d+ s|not synced)/);
    infra('up');
    await waitFor(
      '/healthz recovers',
      async () => ((await get(port, '/healthz')).status === 200 ? true : undefined),
      60_000,
    );
    proc.child.kill('SIGTERM');
    await createSink(kc, sink('after'));
    await waitFor(
      'reconciled after restart',
      async () => ((await getSink(kc, ns, 'after')).status?.observedGeneration === 1 ? true : undefined),
      60_000,
    );
    const h = controller.health();
    assert.ok(h.every((x) => x.synced));
    assert.ok(
      h.every((x) => x.sinceHeardMs < 30_000),
      'every watch hears from the apiserver again',
    );
  } finally {
    await controller.stop();
  }
});
