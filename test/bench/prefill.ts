// Pre-fills (or tops up) the bench topic without running the bench: `node test/bench/prefill.ts [messages] [topic]`.
import { testbed } from '../support/testbed.ts';
import { startPrivateKafka } from './support/private-kafka.ts';
import { ensurePrefilled } from './support/topic.ts';

// `--shared-kafka` fills the test bed's broker; by default the bench's private broker.
const args = process.argv.slice(2).filter((a) => a !== '--shared-kafka');
const [messages = '2000000', topic = 'bench-tb-event-clean-8p'] = args;
const pk = process.argv.includes('--shared-kafka')
  ? undefined
  : await startPrivateKafka(testbed('KAFKA_LIBS'), testbed('KAFKA_BIN'));
await ensurePrefilled(pk?.bootstrap ?? testbed('KAFKA_BOOTSTRAP'), topic, 8, Number(messages));
await pk?.stop();
process.exit(0);
