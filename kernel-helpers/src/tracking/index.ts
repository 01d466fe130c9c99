import type { LabSettings } from "../config/settings.js";
import { MlflowFileStoreTracking } from "./file-store.js";
import { MlflowServerTracking, type MlflowServerOptions } from "./mlflow-server.js";
import type { Tracking } from "./tracking.js";

export { MlflowFileStoreTracking } from "./file-store.js";
export { MlflowServerTracking, type MlflowServerOptions } from "./mlflow-server.js";
export * from "./tracking.js";

/**
 * The tracking backend the settings name: the MLflow server of MLFLOW_TRACKING_URI (http/https),
 * else MLflow's file store under the lab home. A configured server that is down makes calls fail;
 * there is deliberately no fallback to the file store, which would hide runs from the team's server.
 */
export function openTracking(settings: Pick<LabSettings, "tracking">, options: MlflowServerOptions = {}): Tracking {
  return settings.tracking.kind === "mlflow-server"
    ? new MlflowServerTracking(settings.tracking.uri, options)
    : new MlflowFileStoreTracking(settings.tracking.path);
}
