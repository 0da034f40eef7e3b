// `npm run demo -- [options]`: the command line, parsed without I/O.

export interface DemoArgs {
  help: boolean;
  down: boolean;
  follow: boolean;
  events: number;
  /** Events per second; 0 = as fast as Kafka takes them. */
  rate: number;
  /** ANSI colours and an in-place panel; default: when stdout is a terminal. */
  color?: boolean;
}

export const DEFAULT_EVENTS = 100_000;

export const USAGE = `usage: npm run demo -- [options]

Brings up the local stack (test bed: Kafka, Redis, MariaDB, the Doris emulator, a control plane and
a node), builds the images if their inputs changed and loads them into the node, installs the
operator with the Helm chart, applies a sample DorisSink (tb_event, 8 partitions, 1..4 sinkers
scaled on lag), produces the canonical dirty event mix and shows rows loaded, lag, replicas and
throughput live. The stack keeps running afterwards; each run starts the sample from an empty
topic and table.

options:
  --events N     events to produce (default ${DEFAULT_EVENTS.toLocaleString('en-US')}; 0.1 % are not JSON and go to the DLQ, the
                 rest of the dirty mix loads)
  --rate R       produce at most R events per second (default: as fast as Kafka takes them)
  --no-follow    exit once every event has arrived, after the summary (exit 1 if they don't)
  --color / --no-color   force the live panel on or off (default: on when stdout is a terminal)
  --down         remove the demo from the stack (sink, operator, topics, table); the test bed keeps
                 running: test/infra/down stops it
  -h, --help     this text
`;

function count(name: string, raw: string | undefined, min: number): number {
  if (raw === undefined || raw.startsWith('--')) throw new Error(`${name} needs a number`);
  const n = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name} ${JSON.stringify(raw)}: expected a whole number ≥ ${min}`);
  return n;
}

/** Parses argv (without node and the script); throws with a message naming the bad option. */
export function parseArgs(argv: readonly string[]): DemoArgs {
  const a: DemoArgs = { help: false, down: false, follow: true, events: DEFAULT_EVENTS, rate: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '--down':
        a.down = true;
        break;
      case '--no-follow':
        a.follow = false;
        break;
      case '--follow':
        a.follow = true;
        break;
      case '--events':
        a.events = count('--events', value(), 1);
        break;
      case '--rate':
        a.rate = count('--rate', value(), 0);
        break;
      case '--color':
        a.color = true;
        break;
      case '--no-color':
        a.color = false;
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)} (npm run demo -- --help)`);
    }
  }
  return a;
}
