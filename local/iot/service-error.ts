/**
 * An error of an emulated AWS control-plane API: the HTTP status and the exception name the
 * AWS SDK turns into its typed exception (`x-amzn-ErrorType`).
 */
export class AwsServiceError extends Error {
  override name = 'AwsServiceError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const invalidRequest = (message: string, options?: ErrorOptions) => new AwsServiceError(400, 'InvalidRequestException', message, options);
export const notFound = (message: string) => new AwsServiceError(404, 'ResourceNotFoundException', message);
export const alreadyExists = (message: string) => new AwsServiceError(409, 'ResourceAlreadyExistsException', message);
export const deleteConflict = (message: string) => new AwsServiceError(409, 'DeleteConflictException', message);
export const certificateState = (message: string) => new AwsServiceError(406, 'CertificateStateException', message);
export const certificateValidation = (message: string, options?: ErrorOptions) =>
  new AwsServiceError(400, 'CertificateValidationException', message, options);
export const versionsLimitExceeded = (message: string) => new AwsServiceError(409, 'VersionsLimitExceededException', message);
