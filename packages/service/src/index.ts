export { CommandConfig, configFrom, exitOnStartupError } from './cli.js';
export { ConfigError, loadConfig, parseDuration } from './config.js';
export {
  type BatchCommand,
  connectionOptions,
  describeTarget,
  memoryWatchOptions,
  openRedis,
} from './connection.js';
export { EXIT_REDIS_UNAVAILABLE, exitWhenRedisUnavailable, type GiveUpOptions } from './give-up.js';
export { canEvictPipelineKeys, guardAgainstEviction } from './eviction-guard.js';
export { describeRedisFailure, type RedisFailure } from './redis-failure.js';
export { type Stoppable, stopOnSignals } from './lifecycle.js';
export { createLogger, type Logger } from './logger.js';
export {
  closeServer,
  createRegistry,
  probeHandler,
  type Readiness,
  startMetricsServer,
} from './metrics-server.js';
export {
  DEFAULT_MEMORY_READY_RATIO,
  MemoryWatch,
  type MemoryWatchOptions,
  memoryWatchOf,
  watchRedisMemory,
} from './memory-watch.js';
export {
  CONNECTION_SETTINGS,
  type ConnectionConfig,
  claimPolicySettings,
  connectionSchema,
  durabilityOf,
  duration,
  durationSetting,
  onOff,
  giveUpAfter,
  logLevel,
  pipeName,
  positiveInt,
} from './schemas.js';
export {
  addSettings,
  type Setting,
  type Settings,
  type SettingsShape,
  setting,
  settingHelp,
  settingsSchema,
  shownDefault,
} from './settings.js';
export {
  type RunnableService,
  runBatchCommand,
  runService,
  type ServiceContext,
  type ServiceOptions,
} from './run-service.js';
export { aclSetUserArgs, aclSetUserLine, pipelineAcl, type ServiceAcl, type ServiceName } from './acl.js';
export { loadPipeFunctions } from './pipe-functions.js';
export { formatDuration, LATEST_TIME_MS, type ParsedTime, parseTime, type WithoutZone } from './time-text.js';
export { registerPipelineGauges } from './pipeline-gauges.js';
