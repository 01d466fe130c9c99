/**
 * The tables refreshLiveTables() maintains, named once: the batch steps (refine, buildGoldTable) refuse to write
 * them, and they can import these names without importing the live refresh itself.
 */
export const LIVE_PROGRESS = "silver.live_progress";
export const LIVE_SILVER = { transactions: "silver.transactions", interactions: "silver.user_interactions" } as const;
export const REVENUE_PER_MINUTE = "gold.revenue_per_minute";
export const ACTIVE_USERS_PER_MINUTE = "gold.active_users_per_minute";
