import type { FastifyInstance } from "fastify";
import type { Lab } from "../lab.js";
import { MlError } from "../ml/features.js";
import { MAX_LIMIT, recommendationsFor } from "../ml/scores.js";

/**
 * GET /api/v1/recommendations/:userId — the user's segment and what similar customers buy,
 * answered from gold (gold.customer_scores + gold.customer_orders). Needs a lab: the API reads the
 * catalog the notebooks write.
 */
export function recommendationRoutes(app: FastifyInstance, lab: Lab | undefined): void {
  app.get<{ Params: { userId: string }; Querystring: { limit?: string } }>("/api/v1/recommendations/:userId", async (request, reply) => {
    const { userId } = request.params;
    if (!/^\d{1,15}$/.test(userId)) {
      return reply.code(400).send({ error: "bad_request", message: `userId must be a positive integer of at most 15 digits, got "${userId.slice(0, 40)}".`, fix: "Use a customer_id, e.g. /api/v1/recommendations/42." });
    }
    const rawLimit = request.query.limit;
    if (rawLimit !== undefined && !(/^\d{1,2}$/.test(rawLimit) && Number(rawLimit) >= 1 && Number(rawLimit) <= MAX_LIMIT)) {
      return reply.code(400).send({ error: "bad_request", message: `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${String(rawLimit).slice(0, 40)}".`, fix: `Leave it out (5 products) or give e.g. ?limit=10.` });
    }
    if (!lab) {
      return reply.code(503).send({ error: "unavailable", message: "This API was started without a lab, so it cannot read gold tables.", fix: "Start it with startApi({ lab })." });
    }
    try {
      const limit = rawLimit === undefined ? undefined : Number(rawLimit);
      const r = await recommendationsFor(lab, Number(userId), { limit });
      if (!r) return reply.code(404).send({ error: "not_found", message: `No scores for user ${userId} in gold.customer_scores.`, fix: "Use a customer_id that has orders before the feature cutoff (see gold.ml_features)." });
      return r;
    } catch (e) {
      if (e instanceof MlError) return reply.code(503).send({ error: "unavailable", message: e.message.split("\n")[0], fix: e.fix });
      throw e;
    }
  });
}
