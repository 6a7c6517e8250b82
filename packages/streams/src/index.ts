export {
  type Decoded,
  decodeAverage,
  decodeDeadLetter,
  decodeDeviceLatestHour,
  decodeDeviceWindow,
  decodeWindowAverage,
  decodeLateReading,
  decodeReading,
  encodeAverage,
  encodeDeadLetter,
  encodeDeviceWindow,
  encodeWindowAverage,
  encodeLateReading,
  encodeReading,
  type FieldList,
  fieldsToObject,
  objectToFields,
} from './codecs.js';
export {
  type AutoclaimIdsResult,
  type AutoclaimOptions,
  type AutoclaimResult,
  type ClaimIdsResult,
  ConsumerGroup,
  type ConsumerInfo,
  type GroupInfo,
  type GroupRead,
  groupsOf,
  isBusyGroup,
  isNoGroup,
  type PendingEntry,
  type PendingSummary,
} from './consumer-group.js';
export { type ConsumerBatch, ConsumerLoop, type ConsumerLoopOptions } from './consumer-loop.js';
export {
  type DeadLetterEntry,
  type DeadLetterOutcome,
  type DeadLetterRequest,
  DELIVERED_TOO_OFTEN,
  deadLetterPending,
  listDeadLetters,
  type ReplayOutcome,
  replayDeadLetter,
  replayFields,
} from './dead-letter.js';
export {
  DecodeError,
  IdTooSmallError,
  InvalidIdError,
  InvalidWindowsError,
  NoGroupError,
  PipeError,
} from './errors.js';
export {
  compareIds,
  DAY_MS,
  dateFromId,
  formatId,
  HOUR_MS,
  type HourWindow,
  hourLabel,
  hourWindowOf,
  idFromDate,
  idFromMs,
  msFromId,
  nextId,
  parseId,
  type StreamId,
} from './ids.js';
export {
  companionKeyOf,
  DEFAULT_PREFIX,
  type KeyPatterns,
  PipelineKeys,
  PREFIX_PATTERN,
  PREFIX_RULE,
  type Shard,
} from './keys.js';
export {
  type DeviceList,
  type DeviceListOptions,
  type DeviceSummary,
  deviceLastSeen,
  isDeviceSearch,
  listDevices,
} from './device-index.js';
export { forwardOutbox, outboxOf } from './outbox.js';
export { calculateSlot, SLOTS, shardOfDevice, shardTag } from './shards.js';
export { type JudgedConsumer, judgeConsumers, type LivenessOptions, liveConsumers } from './liveness.js';
export {
  defineLuaCommand,
  type LuaCommand,
  type LuaFunction,
  loadLuaFunctions,
  luaFunction,
} from './lua-command.js';
export { Lease } from './lease.js';
export {
  type ActiveAlert,
  type AlertTransition,
  activeAlerts,
  decodeAlertTransition,
  recentAlerts,
} from './alerts.js';
export { type Logger, silentLogger } from './logger.js';
export { type RedisMemory, redisMemory } from './memory.js';
export { discoverPartitions } from './partitions.js';
export {
  type ConnectionOptions,
  connect,
  duplicateForBlocking,
  isCluster,
  type RedisClient,
  redactUrl,
  mastersOfAllSlots,
  scanTargets,
  type TlsFiles,
  whenReady,
} from './redis.js';
export {
  DEFAULT_DEVICE,
  DEVICE_PATTERN,
  TEMP_F_MAX,
  TEMP_F_MIN,
  type DeadLetter,
  DeadLetterSchema,
  type DeviceLatestHour,
  DeviceLatestHourSchema,
  type DeviceWindow,
  DeviceWindowSchema,
  type HourlyAverage,
  HourlyAverageSchema,
  type LateReading,
  LateReadingSchema,
  type Reading,
  ReadingSchema,
  type WindowAverage,
  WindowAverageSchema,
} from './schemas.js';
export {
  type AddOptions,
  pairs,
  type RangeOptions,
  Stream,
  type StreamEntry,
  type StreamInfo,
  type TrimStrategy,
  xaddArgs,
} from './stream.js';
export { type TimeSeriesMessage, type TimeSeriesPending, TimeSeries } from './time-series.js';
export {
  connectionEpoch,
  type Durability,
  NO_WAIT,
  NotReplicatedError,
  waitForReplicas,
} from './replication.js';
export { type PartitionIntegrity, partitionIntegrity } from './partition-integrity.js';
export {
  type GroupStatus,
  type PartitionStatus,
  type PipelineStatus,
  pipelineStatus,
} from './pipeline-status.js';
export { backoffMs, pause, unlessStopped, withDeadline } from './waiting.js';
export {
  DEFAULT_KEPT_WINDOWS,
  HOUR_WINDOW,
  keepOf,
  LayoutRecord,
  MAX_KEEP_MS,
  parseKeep,
  parseKeepEntries,
  parseWindowSize,
  WINDOW_SIZES,
  type WindowLabel,
  WindowLayout,
  type WindowSize,
  windowName,
  windowOf,
} from './windows.js';
