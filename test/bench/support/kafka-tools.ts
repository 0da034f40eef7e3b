// Kafka's own command-line tools (the test bed's wrappers in $KAFKA_BIN), run as child processes whose
// CPU and memory are sampled while they run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cpuSeconds, memory } from './proc.ts';

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  cpuSeconds: number;
  peakRssMb: number;
  wallSeconds: number;
}

export function runTool(bin: string, tool: string, args: string[], timeoutMs = 600_000): Promise<ToolRun> {
  const started = performance.now();
  const child = spawn(join(bin, tool), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let cpu = 0;
  let peak = 0;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // The wrapper execs java, so the child's pid is the JVM's; the last reading before exit is kept.
  const sample = setInterval(() => {
    try {
      cpu = cpuSeconds(child.pid!);
      peak = Math.max(peak, memory(child.pid!).peakRssMb);
    } catch {
      // exited between readings
    }
  }, 200);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((ok) => {
    child.on('exit', (code) => {
      clearInterval(sample);
      clearTimeout(timer);
      ok({ code, stdout, stderr, cpuSeconds: cpu, peakRssMb: peak, wallSeconds: (performance.now() - started) / 1000 });
    });
  });
}

export interface ConsumerPerf {
  messages: number;
  mb: number;
  /** nMsg.sec: over the whole run including the group join. */
  msgsPerSec: number;
  /** fetch.nMsg.sec: over fetching only (join/rebalance time excluded). */
  fetchMsgsPerSec: number;
  fetchMbPerSec: number;
  rebalanceMs: number;
  fetchMs: number;
  cpuSecondsPerMillionMsgs: number;
  peakRssMb: number;
}

/** kafka-consumer-perf-test on the whole topic with a fresh group. */
export async function consumerPerfTest(
  bin: string,
  brokers: string,
  topic: string,
  messages: number,
): Promise<ConsumerPerf> {
  const r = await runTool(bin, 'kafka-consumer-perf-test', [
    ...['--bootstrap-server', brokers, '--topic', topic, '--num-records', String(messages)],
    ...['--group', `perf-${Date.now()}`, '--timeout', '60000'],
  ]);
  if (r.code !== 0) throw new Error(`kafka-consumer-perf-test exited with ${r.code}: ${r.stderr.slice(-2000)}`);
  // Header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  //         rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = r.stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  const f = lines[header + 1]!.split(',').map((s) => s.trim());
  const n = Number(f[4]);
  return {
    messages: n,
    mb: Number(f[2]),
    msgsPerSec: Number(f[5]),
    rebalanceMs: Number(f[6]),
    fetchMs: Number(f[7]),
    fetchMbPerSec: Number(f[8]),
    fetchMsgsPerSec: Number(f[9]),
    cpuSecondsPerMillionMsgs: (r.cpuSeconds / n) * 1e6,
    peakRssMb: r.peakRssMb,
  };
}
