import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import {
  HELD_LINE_PREFIX,
  heldReason,
  loadHeld,
  loadHeldMessage,
  MAX_PODS_ASKED,
  maskSecrets,
  notReadyReason,
  readyzTargets,
} from './held.ts';

function pod(
  name: string,
  o: {
    ready?: boolean;
    running?: boolean;
    ip?: string;
    port?: number;
    hostNetwork?: boolean;
    deleting?: boolean;
    started?: string;
  } = {},
): V1Pod {
  return {
    metadata: { name, ...(o.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: {
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        {
          name: 'sinker',
          ...(o.port === 0 ? {} : { ports: [{ name: 'metrics', containerPort: o.port ?? 9090, protocol: 'TCP' }] }),
        },
      ],
    },
    status: {
      ...(o.ip === '' ? {} : { podIP: o.ip ?? '10.0.0.7' }),
      containerStatuses: [
        {
          name: 'sinker',
          image: 'img',
          imageID: '',
          ready: o.ready ?? false,
          restartCount: 0,
          state:
            o.running === false
              ? { waiting: { reason: 'ContainerCreating' } }
              : { running: o.started ? { startedAt: new Date(o.started) } : {} },
        },
      ],
    },
  };
}

test('the line looked for is the one the sinker writes on /readyz while its loads are held', () => {
  // sinker/run.ts names the readiness check "doris" and reports SinkPipeline.loadBlocked under it.
  const run = readFileSync(new URL('../../sinker/run.ts', import.meta.url), 'utf8');
  assert.match(run, /\{ name: 'doris', check: \(\) => pipelineRef\?\.loadBlocked \}/);
  const pipeline = readFileSync(new URL('../../sinker/pipeline.ts', import.meta.url), 'utf8');
  const words = HELD_LINE_PREFIX.slice('doris: '.length, -': '.length);
  assert.ok(
    pipeline.includes(`\`${words}: \${this.#blocked.reason}\``),
    `sinker/pipeline.ts no longer says "${words}"`,
  );
});

test('readyzTargets: running pods that are not ready, on their pod IP and metrics port, a few, running longest first', () => {
  assert.deepEqual(readyzTargets([pod('b'), pod('a', { ip: 'fd00::7', port: 9191 })]), [
    { pod: 'a', url: 'http://[fd00::7]:9191/readyz' },
    { pod: 'b', url: 'http://10.0.0.7:9090/readyz' },
  ]);
  assert.deepEqual(
    readyzTargets([
      pod('ready', { ready: true }),
      pod('starting', { running: false }),
      pod('no-ip', { ip: '' }),
      pod('host-network', { hostNetwork: true, port: 0 }),
      pod('no-port', { port: 0 }),
      pod('deleting', { deleting: true }),
    ]),
    [],
  );
  // Those a scale-up just started (not joined yet) come after the ones that have run a while (held).
  const many = Array.from({ length: 10 }, (_, i) => pod(`new-${i}`, { started: '2026-01-01T10:00:00Z' }));
  many.push(pod('old', { started: '2026-01-01T09:00:00Z' }), pod('unknown'));
  const asked = readyzTargets(many).map((t) => t.pod);
  assert.equal(asked.length, MAX_PODS_ASKED);
  assert.deepEqual(asked.slice(0, 2), ['old', 'new-0']);
});

test('heldReason: Doris reason from the held line among the other checks; nothing for other refusals', () => {
  const body = `kafka: not joined to the consumer group yet\n${HELD_LINE_PREFIX}Access denied for user 'root'@'%'\n`;
  assert.equal(heldReason(body), "Access denied for user 'root'@'%'");
  assert.equal(heldReason('kafka: not joined to the consumer group yet\n'), undefined);
  assert.equal(heldReason('dedupe: refusing stale exactly-once state, ...\n'), undefined);
  assert.equal(heldReason('ok\n'), undefined);
});

test('maskSecrets: the sink secret values and any URL password', () => {
  assert.equal(
    maskSecrets('denied for s3cret-pw (s3cret-pw) at http://u:p@ss/w@fe:8030/api and redis://:r3d@redis:6379/0', [
      's3cret-pw',
      undefined,
      '',
    ]),
    'denied for *** (***) at http://u:***@fe:8030/api and redis://:***@redis:6379/0',
  );
  assert.equal(maskSecrets('abcdef', ['abc', 'abcdef']), '***', 'the longer secret first');
  assert.equal(maskSecrets('redis://redis:6379/0?db=1&password=r3d x', []), 'redis://redis:6379/0?db=1&password=*** x');
  assert.equal(maskSecrets('http://fe:8030/api/db/t/_stream_load', []), 'http://fe:8030/api/db/t/_stream_load');
});

test('loadHeld: any asked pod holding is enough; the first by name is quoted, masked and bounded', () => {
  const held = (reason: string) => `${HELD_LINE_PREFIX}${reason}\n`;
  assert.equal(loadHeld([], []), undefined);
  assert.equal(
    loadHeld(
      [
        { pod: 'a', status: 503, body: 'kafka: not joined to the consumer group yet\n' },
        { pod: 'b' },
        { pod: 'c', status: 200, body: held('stale') },
      ],
      [],
    ),
    undefined,
    'not held: another reason, no answer, or ready (a 200 is not a hold)',
  );
  const h = loadHeld(
    [
      { pod: 'z', status: 503, body: held('Access denied; password pw-9') },
      { pod: 'b' },
      { pod: 'm', status: 503, body: held(`table not found ${'x'.repeat(1000)}`) },
    ],
    ['pw-9'],
  );
  assert.ok(h);
  assert.equal(h.pod, 'm');
  assert.equal(h.pods, 2);
  assert.equal(h.asked, 3);
  assert.ok(h.reason.startsWith('table not found x') && h.reason.length <= 401 && h.reason.endsWith('…'));
  const one = loadHeld([{ pod: 'z', status: 503, body: held('Access denied; password pw-9') }], ['pw-9']);
  assert.ok(one);
  assert.equal(
    loadHeldMessage(one),
    "Doris refuses the sink's setup, so the sinkers hold their loads and commit nothing (pod z): Access denied; password ***. Fix spec.doris (user, password Secret, database, table) or the user's privileges in Doris; the sinkers load on by themselves once Doris accepts",
  );
  assert.match(loadHeldMessage(h), /\(2 of 3 sinker pods asked, e\.g\. m\): table not found/);
});

test("notReadyReason: the first line of an unready pod's /readyz; else where to look for a running pod not asked", () => {
  const pods = [pod('b'), pod('a', { hostNetwork: true, port: 0 }), pod('c', { ready: true })];
  assert.equal(
    notReadyReason(
      pods,
      [
        { pod: 'b', status: 503, body: 'schema: table schema not loaded yet (pw-1)\nkafka: not joined\n' },
        { pod: 'z', status: 503, body: '' },
      ],
      ['pw-1'],
    ),
    'pod b not ready: schema: table schema not loaded yet (***)',
  );
  // on the host network (not asked) or not answering: the probe's events say why
  assert.equal(
    notReadyReason(pods, [{ pod: 'b' }], []),
    'pod a running, not ready: its readiness probe says why (kubectl describe pod a)',
  );
  assert.equal(notReadyReason([pod('c', { ready: true }), pod('d', { running: false })], [], []), undefined);
});
