/** A routing file that cannot be used; the message is one line: `<file>:<line>:<col>: <path>: <reason>`. */
export class RoutingConfigError extends Error {
  override name = 'RoutingConfigError';
}

/** A single value (matcher, time range, time zone) that does not parse; the caller adds file and position. */
export class RoutingSyntaxError extends Error {
  override name = 'RoutingSyntaxError';
}
