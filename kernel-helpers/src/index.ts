/**
 * @dataflow-lab/kernel-helpers — what the DataFlow Lab notebooks import.
 * The public surface is listed here explicitly; everything else is internal.
 */
export { openLab, Lab, type OpenLabOptions } from "./lab.js";
export { resolveSettings, describeSettings, ENV, BUCKETS, LAYERS, type LabSettings, type Bucket, type Layer } from "./config/settings.js";
export { Catalog, LAKE, type Snapshot, type TableInfo } from "./catalog/catalog.js";
export { QueryResult, type ColumnInfo, type JsonValue } from "./catalog/result.js";
export { LocalStorage } from "./storage/local-storage.js";
export { S3Storage, type ObjectVersion } from "./storage/s3-storage.js";
export type { ObjectStore, ObjectInfo, BucketInfo } from "./storage/object-store.js";
export { ingestFile, describeIngest, INGESTION_LOG, REJECTED_RECORDS, type IngestOptions, type IngestReport, type RejectedLine, type SourceFormat, type SourceEncoding, type SourceCompression } from "./bronze/ingest.js";
export { notNull, range, acceptedValues, unique, email, foreignKey, ruleName, type Rule } from "./quality/rules.js";
export { refine, describeQuality, QUARANTINE, QUALITY_RUNS, type RefineSpec, type ColumnSpec, type QualityReport } from "./quality/refine.js";
export { buildGoldTable, describeGold, type GoldReport } from "./gold/gold.js";
// table operations: upserts and the change feed, SCD2 dimensions, erasure, maintenance, physical layout
export { mergeInto, describeMerge, tableChanges, type MergeSpec, type MergeReport } from "./tables/merge.js";
export { buildScd2, describeScd2, checkScd2, type Scd2Spec, type Scd2Report, type Scd2Summary } from "./tables/scd2.js";
export { eraseCustomer, describeErasure, ERASURE_LOG, type EraseOptions, type ErasureReport } from "./tables/erase.js";
export {
  lakeStats, maintainLake, describeMaintenance,
  type MaintenancePolicy, type MaintenanceReport, type MaintenanceStep, type LakeStats, type TableStats, type LayerStats, type LakeTotals,
} from "./tables/maintenance.js";
export {
  partitionTable, sortTable, scanStats, describeScan, compressionSizes,
  type LayoutReport, type LayoutOptions, type ScanStats, type CompressionSizes, type ParquetCodec,
} from "./tables/layout.js";
export { check, checkEqual, checkClose } from "./checks/checks.js";
export { showTable, renderTable, renderText, type TableOptions, type Tabular } from "./display/table.js";
export { showChart, renderChart, VEGALITE_MIME, type RenderedChart, type ChartData } from "./display/chart.js";
export { progress, formatBar, type Progress } from "./display/progress.js";
export { liveChart, type LiveChart } from "./display/live.js";
export { runStreamSink, describeStreamSink, bronzeTableFor, streamSourceFor, STREAM_OFFSETS, DEAD_LETTER, type StreamSinkOptions, type StreamSinkReport, type BatchReport } from "./stream/sink.js";
export { FolderSource, type FolderSourceOptions } from "./stream/folder-source.js";
export { KafkaSource, type KafkaSourceOptions } from "./stream/kafka-source.js";
export { StreamError, type StreamSource, type StreamMessage, type Position } from "./stream/source.js";
export type { TopicSchema, FieldType } from "./stream/schema.js";
// streaming: the marketplace's events, the synthetic producer, live silver/gold, the ingestion API
export { TOPICS, INTERACTION_TYPES, MARKETPLACE_SCHEMAS, EVENT_ID, eventJsonSchema, type MarketplaceTopic, type Transaction, type UserInteraction } from "./stream/events.js";
export { marketplaceEvents, produceToApi, type MarketplaceOptions, type MarketplaceEvent, type ProduceOptions, type ProduceReport } from "./stream/marketplace.js";
export { refreshLiveTables, describeLiveRefresh, LIVE_PROGRESS, REVENUE_PER_MINUTE, ACTIVE_USERS_PER_MINUTE, type LiveRefreshReport } from "./stream/live.js";
export { createApi, startApi, type ApiOptions, type ListenOptions, type RunningApi, type ApiStats, type EventError } from "./api/server.js";
export { KafkaPublisher, FolderPublisher, PublishUnavailableError, type EventPublisher, type Ack, type OutgoingEvent } from "./api/publisher.js";
export {
  openTracking, MlflowServerTracking, MlflowFileStoreTracking, TrackingError, parseModelUri,
  type Tracking, type MlflowServerOptions, type Experiment, type Run, type RunInfo, type RunStatus, type RunData,
  type MetricPoint, type ParamValue, type DatasetInput, type ModelVersion, type StartRunOptions,
} from "./tracking/index.js";
// ML: features from gold, k-means segments and a churn forest (mljs), MLflow model directories, scores and recommendations
export {
  loadFeatures, standardizer, trainTestSplit, MlError, classificationMetrics, rocAuc, rocCurve, sweepK, trainSegments, trainChurnForest,
  permutationImportance, silhouette, score, logModel, loadModel, FLAVOR, writeCustomerScores, recommendationsFor, CUSTOMER_SCORES,
  type FeatureMatrix, type ClassificationMetrics, type ModelSpec, type KSweepPoint, type LoadedModel, type CustomerScores, type Recommendations,
} from "./ml/index.js";
export {
  LabError, InputError, ConfigError, UnavailableError, ConflictError, CheckFailedError,
  CatalogError, StorageError, IngestError, QualityError, PublishRefusedError,
} from "./errors.js";
