import { ConsoleLogger, type LogLevel, Logger } from '@nestjs/common';

/** Nest's console logger, every level on stderr (stdout stays for a command's answer). */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(messages: unknown[], context?: string, logLevel?: LogLevel, _stream?: 'stdout' | 'stderr', errorStack?: unknown): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}

/**
 * Send the services' Nest logs to stderr, for a CLI command whose stdout is machine-read
 * (`--json`): the in-process services log through Nest's Logger, which prints to stdout.
 */
export function nestLogsToStderr(): void {
  Logger.overrideLogger(new StderrLogger());
}
