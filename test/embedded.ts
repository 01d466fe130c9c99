/**
 * Unit, notebook and benchmark tests run on the embedded default even when the suite has the
 * services' variables in its environment (npm test exports them for the integration tests).
 */
export const SERVICE_VARIABLES = [
  "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "DATAFLOW_CATALOG_URL", "KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI",
] as const;

/** The environment minus the services' variables. */
export function embeddedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const v of SERVICE_VARIABLES) delete env[v];
  return env;
}

/** Make this test process itself embedded-only. */
export function useEmbeddedDefault(): void {
  for (const v of SERVICE_VARIABLES) delete process.env[v];
}
