export { configFrom, exitOnStartupError, withConnectionFlags } from './cli.js';
export { ConfigError, loadConfig, parseDuration } from './config.js';
export { connectionOptions, openRedis } from './connection.js';
export { type Stoppable, stopOnSignals } from './lifecycle.js';
export { createLogger, type Logger } from './logger.js';
export { createRegistry, startMetricsServer } from './metrics-server.js';
export {
  CONNECTION_FLAGS,
  type ConnectionConfig,
  connectionSchema,
  duration,
  positiveInt,
} from './schemas.js';
export { aclSetUserArgs, aclSetUserLine, pipelineAcl, type ServiceAcl, type ServiceName } from './acl.js';
export { registerPipelineGauges } from './pipeline-gauges.js';
