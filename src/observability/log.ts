// The one logger factory, and what an error may put in a log: its class, code and message only.
// Never the client's document (String(GraphQLError) prints the source around the failing field,
// i.e. any key written as a literal), never variables, never Prisma's invocation text (its
// message quotes the call, file paths and arguments), never a stack.
import { GraphQLError } from 'graphql';
import pino, { type Logger } from 'pino';

const MAX_MESSAGE = 300;
/** Keys, invitation tokens and webhook secrets, should a message ever quote one. */
const SECRET_LIKE = /(?<![0-9A-Za-z])(?:kp[cs]?|kpinv|whsec)_[0-9A-Za-z_-]{4,}/g;

export interface SafeError {
  type: string;
  code?: string | number;
  message: string;
  /** the error this one wraps (a resolver's error inside a GraphQLError), same shape */
  cause?: SafeError;
}

function isPrismaError(error: Error): boolean {
  return error.name.startsWith('PrismaClient') || 'clientVersion' in error;
}

function safeMessage(error: Error): string {
  let message = typeof error.message === 'string' ? error.message : '';
  // Prisma: "Invalid `prisma.x.y()` invocation in /path:line … <code frame> … <cause>": the cause
  // is the last paragraph; everything before it quotes our code and the call's arguments.
  if (isPrismaError(error))
    message =
      message
        .trim()
        .split(/\n\s*\n/)
        .pop() ?? '';
  message = message.replace(SECRET_LIKE, '[redacted]').replace(/\s+/g, ' ').trim();
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

function isSafeError(value: unknown): value is SafeError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SafeError).type === 'string' &&
    typeof (value as SafeError).message === 'string'
  );
}

/** What a log may say of an error. */
export function safeError(error: unknown, depth = 0): SafeError {
  if (!(error instanceof Error)) {
    if (isSafeError(error)) return error;
    // A driver's error record ({ kind, code, message, detail… }): its detail may quote values.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' || typeof code === 'number') return { type: 'object', code, message: '' };
    return { type: typeof error, message: typeof error === 'string' ? error.replace(SECRET_LIKE, '[redacted]').slice(0, MAX_MESSAGE) : '' };
  }
  const code =
    error instanceof GraphQLError
      ? (error.extensions?.code as string | undefined)
      : ((error as { code?: string | number }).code ?? undefined);
  const safe: SafeError = { type: error.constructor?.name ?? error.name, message: safeMessage(error) };
  if (code !== undefined && (typeof code === 'string' || typeof code === 'number')) safe.code = code;
  const inner = error instanceof GraphQLError ? error.originalError : (error as { cause?: unknown }).cause;
  if (inner && inner !== error && depth < 3) safe.cause = safeError(inner, depth + 1);
  return safe;
}

/** pino with error serializers that keep only what safeError keeps, whatever the call site. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    serializers: { err: (e: unknown) => safeError(e), error: (e: unknown) => safeError(e) },
  };
  return destination ? pino(options, destination) : pino(options);
}

export interface YogaLoggerOptions {
  /**
   * Errors that say the same thing many times a second (the database being unreachable: every
   * request answers a coded 503 then): logged at warn, once per `quietMs`, with how many were not.
   */
  isRepetitive?: (error: unknown) => boolean;
  quietMs?: number;
}

/**
 * yoga's logger: it logs the raw error of every masked (unexpected) error, and debug strings
 * several times per request (a disabled level must cost nothing). Strings are yoga's own; anything
 * else is reduced to safeError.
 */
export function yogaLogger(log: Logger, { isRepetitive, quietMs = 5_000 }: YogaLoggerOptions = {}) {
  let lastRepeated = 0;
  let suppressed = 0;
  const forward = (level: 'debug' | 'info' | 'warn' | 'error') =>
    log.isLevelEnabled(level)
      ? (...args: unknown[]) => {
          const [first] = args;
          if (typeof first === 'string') return log[level]({ source: 'yoga' }, first.replace(SECRET_LIKE, '[redacted]'));
          if (level === 'error' && isRepetitive?.(first)) {
            const now = Date.now();
            if (now - lastRepeated < quietMs) {
              suppressed += 1;
              return;
            }
            lastRepeated = now;
            log.warn({ source: 'yoga', err: safeError(first), suppressed }, 'unexpected error (repeated ones are counted)');
            suppressed = 0;
            return;
          }
          log[level]({ source: 'yoga', err: safeError(first) }, level === 'error' ? 'unexpected error' : 'yoga');
        }
      : () => {};
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
}
