// Pre-fills (or tops up) the bench topic without running the bench: `node test/bench/prefill.ts [messages] [topic]`.
import { testbed } from '../support/testbed.ts';
import { defineCli } from './support/cli.ts';
import { startPrivateKafka } from './support/private-kafka.ts';
import { ensurePrefilled } from './support/topic.ts';

export const CLI = defineCli(import.meta, {
  positionals: {
    messages: {
      number: 'positive',
      integer: true,
      default: 2_000_000,
      description: 'messages the topic should hold (8 partitions; topped up when short)',
    },
    topic: { default: 'bench-tb-event-clean-8p', description: 'the topic' },
  },
  options: {
    // `--shared-kafka` fills the test bed's broker; by default the bench's private broker.
    'shared-kafka': { type: 'boolean', description: "fill the test bed's broker instead of the bench's private one" },
  },
});
const opts = CLI.parse();

if (import.meta.main) {
  const pk = opts['shared-kafka'] ? undefined : await startPrivateKafka(testbed('KAFKA_LIBS'), testbed('KAFKA_BIN'));
  await ensurePrefilled(pk?.bootstrap ?? testbed('KAFKA_BOOTSTRAP'), opts.topic, 8, opts.messages);
  await pk?.stop();
  process.exit(0);
}
