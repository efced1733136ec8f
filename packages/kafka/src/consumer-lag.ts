import type { Kafka } from 'kafkajs';

/**
 * Consumer-side helper: how far a consumer group's committed offsets trail the end of a
 * topic, per partition and in total. Zero means every message produced so far has been
 * processed and committed. Used by readiness checks, tests and benchmarks.
 */
export interface GroupLag {
  total: number;
  partitions: { partition: number; end: number; committed: number; lag: number }[];
}

export async function consumerGroupLag(kafka: Kafka, groupId: string, topic: string): Promise<GroupLag> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
    const partitions = ends.map((e) => {
      const end = Number(e.high);
      const low = Number(e.low);
      const c = byPartition.get(e.partition) ?? -1;
      // -1: nothing committed yet; the group would start at the low watermark.
      const from = c < 0 ? low : c;
      return { partition: e.partition, end, committed: c, lag: Math.max(0, end - from) };
    });
    return { total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
  } finally {
    await admin.disconnect();
  }
}
