// Summarizes a V8 .cpuprofile: self time per function (name + file:line), the top N, and self time
// per area (sinker module, kafkajs, undici, ioredis, node internals, GC, idle).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  pct: number;
}

export function areaOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)' || fn === '(program)') return fn.slice(1, -1);
  const m = /\/sinker\/([^/]+)(?:\/|\.ts)/.exec(url);
  if (m) return `sinker/${m[1]!.replace(/\.ts$/, '')}`;
  const n = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (n) return n[1]!;
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  return 'other';
}

export function summarizeProfile(path: string, top = 20): { totalMs: number; top: SelfTime[]; areas: SelfTime[] } {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const byFn = new Map<string, SelfTime>();
  const byArea = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName || '(anonymous)';
    const url = n.callFrame.url;
    const short = url.replace(/^file:\/\/.*?\/(node_modules|sinker|test)\//, '$1/');
    const where = url ? `${short}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${fn} ${where}`;
    const e = byFn.get(key) ?? { fn, where, ms: 0, pct: 0 };
    e.ms += ms;
    byFn.set(key, e);
    const area = areaOf(url, fn);
    const a = byArea.get(area) ?? { fn: area, where: '', ms: 0, pct: 0 };
    a.ms += ms;
    byArea.set(area, a);
    total += ms;
  }
  const finish = (xs: SelfTime[]) =>
    xs
      .sort((a, b) => b.ms - a.ms)
      .map((x) => ({ ...x, ms: Math.round(x.ms), pct: Math.round((x.ms / total) * 1000) / 10 }));
  return {
    totalMs: Math.round(total),
    top: finish([...byFn.values()]).slice(0, top),
    areas: finish([...byArea.values()]),
  };
}
