import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { CRASH_LOOP_RESTARTS, crashLoop, isCrashLooping, podsWaiting } from './crashloop.ts';

function pod(
  name: string,
  c: { ready?: boolean; restarts?: number; exit?: number; log?: string },
  other = false,
): V1Pod {
  const restarts = c.restarts ?? 0;
  return {
    metadata: { name },
    status: {
      containerStatuses: [
        {
          name: other ? 'sidecar' : 'sinker',
          image: 'img',
          imageID: '',
          ready: c.ready ?? false,
          restartCount: restarts,
          state: restarts > 0 ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} },
          ...(c.exit !== undefined
            ? { lastState: { terminated: { exitCode: c.exit, reason: 'Error', ...(c.log ? { message: c.log } : {}) } } }
            : {}),
        },
      ],
    },
  };
}

test('a pod crash-loops when its sinker is not ready and has restarted CRASH_LOOP_RESTARTS times', () => {
  assert.equal(CRASH_LOOP_RESTARTS, 2);
  assert.equal(isCrashLooping(pod('a', { restarts: 2 })), true);
  assert.equal(isCrashLooping(pod('a', { restarts: 1 })), false, 'one restart is not a loop yet');
  assert.equal(isCrashLooping(pod('a', { restarts: 9, ready: true })), false, 'ready again after restarts');
  assert.equal(isCrashLooping(pod('a', { restarts: 9 }, true)), false, "only the sinker container's restarts count");
  assert.equal(isCrashLooping({ metadata: { name: 'pending' }, status: { phase: 'Pending' } }), false);
});

test('crashLoop: only when every live pod crash-loops; the message quotes the last exit and log line', () => {
  assert.equal(crashLoop([]), undefined, 'no pods: nothing to judge (e.g. scaled to zero)');
  assert.equal(crashLoop([pod('a', { restarts: 3 }), pod('b', { ready: true })]), undefined, 'one healthy pod');
  assert.equal(crashLoop([pod('a', { restarts: 3 }), pod('b', {})]), undefined, 'one still starting');
  const log = `{"level":"info","msg":"starting"}\n{"level":"error","msg":"config: doris.table: ${'x'.repeat(400)}"}\n\n`;
  const c = crashLoop([pod('b', { restarts: 2, exit: 1 }), pod('a', { restarts: 4, exit: 2, log })]);
  assert.ok(c);
  assert.equal(c.pods, 2);
  assert.match(
    c.message,
    /^all 2 sinker pods are crash-looping \(pod a restarted 4 times, last exit code 2 \(Error\): \{"level":"error","msg":"config: doris\.table: x+…\); see kubectl logs a --previous$/,
  );
  assert.ok(c.message.length < 500, 'the quote is bounded');
  assert.doesNotMatch(c.message, /starting/, 'only the last line');
  // a pod being deleted (scale-down, rollout) does not count either way
  const gone = pod('z', { ready: true });
  gone.metadata = { name: 'z', deletionTimestamp: new Date() };
  assert.match(
    crashLoop([pod('a', { restarts: 2 }), gone])?.message ?? '',
    /^the sinker pod is crash-looping \(pod a restarted 2 times\)/,
  );
});

test('podsWaiting: why pods that are not ready wait, ignoring plain starting', () => {
  const waiting = (name: string, reason: string, message?: string): V1Pod => ({
    metadata: { name },
    status: {
      containerStatuses: [
        {
          name: 'sinker',
          image: 'img',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason, ...(message ? { message } : {}) } },
        },
      ],
    },
  });
  assert.equal(podsWaiting([waiting('a', 'ContainerCreating')]), undefined);
  assert.equal(
    podsWaiting([waiting('b', 'ImagePullBackOff', 'Back-off pulling image "x"'), waiting('a', 'PodInitializing')]),
    'pod b: ImagePullBackOff: Back-off pulling image "x"',
  );
  const pending: V1Pod = {
    metadata: { name: 'a' },
    status: {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/3 nodes are available: 3 Insufficient memory.',
        },
      ],
    },
  };
  assert.equal(
    podsWaiting([waiting('b', 'ErrImagePull'), pending]),
    'pod a not scheduled: 0/3 nodes are available: 3 Insufficient memory.',
  );
});
