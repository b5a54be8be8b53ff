/**
 * A command's output piped into `head` or a closed pager is not an error of the command: stop
 * quietly with the exit code already decided instead of printing a stack trace for EPIPE.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}
