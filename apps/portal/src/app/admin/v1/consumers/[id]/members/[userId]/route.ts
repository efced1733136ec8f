import { restHandler, restRoute } from '../../../../../../../server/rest/handler.ts';
import { removeConsumerMember } from '../../../../../../../server/use-cases/remove-consumer-member.ts';

const del = restHandler<{ id: string; userId: string }>(
  ['admin'],
  async (actor, _request, { id, userId }) => {
    await removeConsumerMember(actor, { id, userId });
    return { status: 204, body: null };
  },
);

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ DELETE: del });
