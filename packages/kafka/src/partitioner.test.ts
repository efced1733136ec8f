import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { memoizedKeyPartitioner } from './client.ts';

const partitions = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));

describe('memoizedKeyPartitioner', () => {
  it("picks kafkajs's DefaultPartitioner partition for every key, also after the topic grows", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 64 })), { maxLength: 60 }),
        (messages) => {
          const memo = memoizedKeyPartitioner();
          const reference = Partitioners.DefaultPartitioner();
          for (const [key, n] of messages) {
            const args = { topic: 't', partitionMetadata: partitions(n), message: { key, value: 'v' } };
            // Twice: the second answer comes from the memo.
            expect(memo(args)).toBe(reference(args));
            expect(memo(args)).toBe(reference(args));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an explicit partition wins, as in the default', () => {
    const memo = memoizedKeyPartitioner();
    const args = {
      topic: 't',
      partitionMetadata: partitions(8),
      message: { key: 'k', value: 'v', partition: 5 },
    };
    expect(memo(args)).toBe(5);
  });
});
