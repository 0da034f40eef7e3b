// The operator logs as the sinker does (sinker/logger.ts loggerOptions): level names, ISO times, the
// same redaction. It logged pino's defaults before (level 30, epoch milliseconds, nothing redacted),
// so one log query could not read both, and a password in a logged object would have been printed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test("the operator's log lines carry level names and ISO times, like the sinker's", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'operator-log-'));
  const kubeconfig = join(dir, 'kubeconfig');
  // An apiserver that is not there: the operator logs its status server line before it needs one.
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  );
  const child = spawn(
    process.execPath,
    [new URL('./main.ts', import.meta.url).pathname, '--metrics-port', '0', '--namespaces', 'none'],
    { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    let out = '';
    const first = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      child.on('exit', (code) => reject(new Error(`operator exited ${code} before logging: ${out}`)));
    });
    const line = JSON.parse(first) as Record<string, unknown>;
    assert.equal(line.msg, 'status server listening');
    assert.equal(line.level, 'info');
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line.component, 'operator');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});
