// Pre-fills (or tops up) the bench topic without running the bench: `node test/bench/prefill.ts [messages] [topic]`.
import { testbed } from '../support/testbed.ts';
import { ensurePrefilled } from './support/topic.ts';

const [messages = '2000000', topic = 'bench-tb-event-clean-8p'] = process.argv.slice(2);
await ensurePrefilled(testbed('KAFKA_BOOTSTRAP'), topic, 8, Number(messages));
process.exit(0);
