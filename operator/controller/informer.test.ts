// The informer's control flow against a scripted list/watch: 410 relist, restart after errors,
// idle watchdog. (Its behaviour against the real apiserver, restarts included, is in
// test/integration/operator/lifecycle.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesListObject, KubernetesObject, Watch } from '@kubernetes/client-node';
import { type EventType, ResilientInformer } from './informer.ts';

type Obj = KubernetesObject & { code?: number };
const obj = (name: string, rv: string): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

interface Session {
  query: Record<string, unknown>;
  send: (type: string, o: Obj) => void;
  end: (err?: unknown) => void;
  aborted: boolean;
}

function scripted(lists: () => Obj[]) {
  const sessions: Session[] = [];
  let listCalls = 0;
  let rv = 100;
  const watch = {
    async watch(
      _path: string,
      query: Record<string, unknown>,
      cb: (t: string, o: Obj) => void,
      done: (e?: unknown) => void,
    ) {
      const s: Session = { query, send: cb, end: done, aborted: false };
      sessions.push(s);
      return {
        abort: () => {
          s.aborted = true;
        },
      } as AbortController;
    },
  } as unknown as Watch;
  const list = async (): Promise<KubernetesListObject<Obj>> => {
    listCalls++;
    return { apiVersion: 'v1', kind: 'List', items: lists(), metadata: { resourceVersion: String(++rv) } };
  };
  return { watch, list, sessions, listCalls: () => listCalls };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

test('lists, then applies watch events; ERROR 410 relists and reports what vanished', async () => {
  let items = [obj('a', '1'), obj('b', '2')];
  const s = scripted(() => items);
  const events: string[] = [];
  const inf = new ResilientInformer<Obj>({
    name: 't',
    path: '/x',
    list: s.list,
    watch: s.watch,
    onEvent: (t: EventType, o) => events.push(`${t}:${o.metadata?.name}`),
  });
  await inf.start();
  assert.deepEqual(events.splice(0), ['add:a', 'add:b']);
  await until('watch', () => s.sessions.length === 1);
  assert.equal(s.sessions[0]?.query.resourceVersion, '101');
  assert.equal(s.sessions[0]?.query.allowWatchBookmarks, true);
  s.sessions[0]?.send('MODIFIED', obj('a', '5'));
  s.sessions[0]?.send('ADDED', obj('c', '6'));
  s.sessions[0]?.send('BOOKMARK', obj('', '7'));
  s.sessions[0]?.send('DELETED', obj('b', '8'));
  assert.deepEqual(events.splice(0), ['update:a', 'add:c', 'delete:b']);
  assert.deepEqual(
    inf
      .list()
      .map((o) => o.metadata?.name)
      .sort(),
    ['a', 'c'],
  );
  // resourceVersion too old: the server sends ERROR 410 and closes; we relist
  items = [obj('a', '5')];
  s.sessions[0]?.send('ERROR', { code: 410 } as Obj);
  s.sessions[0]?.end(null);
  await until('relist', () => s.listCalls() === 2);
  await until('rewatch', () => s.sessions.length === 2);
  assert.deepEqual(events.splice(0), ['delete:c']);
  assert.equal(s.sessions[1]?.query.resourceVersion, '102');
  await inf.stop();
});

test('a failed watch restarts with backoff from a fresh list, and counts the restart', async () => {
  const s = scripted(() => [obj('a', '1')]);
  const errors: unknown[] = [];
  const inf = new ResilientInformer<Obj>({
    name: 't',
    path: '/x',
    list: s.list,
    watch: s.watch,
    onEvent: () => {},
    onError: (e) => errors.push(e),
    backoffInitialMs: 50,
  });
  assert.equal(inf.health().running, false, 'not running before start (a standby operator)');
  await inf.start();
  assert.equal(inf.health().running, true);
  await until('watch', () => s.sessions.length === 1);
  s.sessions[0]?.end(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
  await until('restart', () => s.sessions.length === 2);
  assert.equal(s.listCalls(), 2, 'relisted after the error');
  assert.equal(inf.health().restarts, 1);
  assert.match(inf.health().lastError ?? '', /connection reset/);
  assert.equal(errors.length, 1);
  await inf.stop();
  assert.equal(inf.health().running, false);
});

test('the watchdog relists a watch that went silent', async () => {
  const s = scripted(() => [obj('a', '1')]);
  const inf = new ResilientInformer<Obj>({
    name: 't',
    path: '/x',
    list: s.list,
    watch: s.watch,
    onEvent: () => {},
    idleTimeoutMs: 150,
  });
  await inf.start();
  await until('watch', () => s.sessions.length === 1);
  // nothing arrives: the watchdog aborts the watch and lists again
  await until('watchdog relist', () => s.listCalls() >= 2, 2000);
  assert.ok(s.sessions[0]?.aborted, 'the silent watch was aborted');
  assert.ok(inf.health().synced);
  await inf.stop();
});
