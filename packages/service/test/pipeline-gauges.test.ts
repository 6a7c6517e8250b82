import { connect, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { expect, inject, it } from 'vitest';
import { createRegistry } from '../src/metrics-server.js';
import { registerPipelineGauges } from '../src/pipeline-gauges.js';

it('exports group lag, pending, oldest pending age, stream sizes and removed entries as read from Redis', async () => {
  const redis = connect({ url: inject('redisUrl') });
  const keys = new PipelineKeys(randomPrefix('gauges'));
  try {
    const partition = keys.partitionKeyFor(Date.now());
    for (let i = 0; i < 5; i++) await redis.xadd(partition, '*', 'temp_f', String(i));
    await redis.xgroup('CREATE', partition, 'aggregator', '0');
    await redis.xreadgroup('GROUP', 'aggregator', 'c1', 'COUNT', 2, 'STREAMS', partition, '>');
    await redis.xadd(keys.deadLetters, '*', 'reason', 'x');
    const trimmed = keys.partitionKeyFor(Date.now() - 86_400_000);
    for (let i = 0; i < 3; i++) await redis.xadd(trimmed, '*', 'temp_f', String(i));
    await redis.xtrim(trimmed, 'MAXLEN', 1);
    const registry = createRegistry('test');
    registerPipelineGauges(registry, redis, keys);
    const text = await registry.metrics();
    const labels = `partition="${partition}",group="aggregator"`;
    expect(text).toContain(`pipe_group_lag{${labels},service="test"} 3`);
    expect(text).toContain(`pipe_group_pending{${labels},service="test"} 2`);
    expect(text).toMatch(
      new RegExp(
        `pipe_group_oldest_pending_seconds\\{${labels.replace(/[{}]/g, '\\$&')},service="test"\\} \\d`,
      ),
    );
    expect(text).toContain('pipe_stream_length{stream="dead_letters",service="test"} 1');
    expect(text).toContain(`pipe_stream_length{stream="${partition}",service="test"} 5`);
    expect(text).toContain(`pipe_partition_removed_entries{partition="${partition}",service="test"} 0`);
    expect(text).toContain(`pipe_partition_removed_entries{partition="${trimmed}",service="test"} 2`);
  } finally {
    redis.disconnect();
  }
});
