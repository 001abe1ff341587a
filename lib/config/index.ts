/** Public API of the config subsystem. See load.ts (loading), config.ts + vhost.ts (accessors; one file per section),
 * parser.ts (syntax), env.ts, yaml.ts (imported on first use: `loadYamlSupport`, `loadConfigAsync`; import
 * parseYamlText/stringifyYaml from yaml.ts itself). */
export { ConfigError, type ConfigLocation } from "./errors.ts";
export {
  type Directive,
  getChild,
  getChildren,
  parseConfFile,
  parseConfText,
  resolveInclude,
  stringifyConf,
} from "./parser.ts";
export { transformConfig } from "./transform.ts";
export { checkSemantics, checkTree } from "./check.ts";
export { ROOT_SPEC } from "./schema.ts";
export { type Env, envName } from "./env.ts";
export { DEFAULT_CONFIG_TEXT } from "./default.ts";
export { checkConfigFile, loadConfig, loadConfigAsync, type LoadOptions, loadYamlSupport, YamlNotLoaded } from "./load.ts";
export { UNIMPLEMENTED, type UnimplementedDirective, unimplementedDirectives } from "./unimplemented.ts";
export {
  DEFAULT_VHOST,
  SrsConfig,
  VhostConfig,
  type ClusterConfig,
  type DashConfig,
  type DvrConfig,
  type EngineConfig,
  type ExecConfig,
  type ExporterConfig,
  type ForwardConfig,
  type HdsConfig,
  type HeartbeatConfig,
  type HlsConfig,
  type HttpApiConfig,
  type HttpHooksConfig,
  type HttpRemuxConfig,
  type HttpServerConfig,
  type HttpStaticConfig,
  type HttpsConfig,
  type IngestConfig,
  type PlayConfig,
  type PublishConfig,
  type ReferConfig,
  type RtcConfig,
  type RtcServerConfig,
  type SecurityConfig,
  type SecurityRule,
  type SrtServerConfig,
  type SrtVhostConfig,
  type StatsConfig,
  type StreamCasterConfig,
  type TimeJitter,
  type TranscodeConfig,
  type CircuitBreakerConfig,
} from "./config.ts";
