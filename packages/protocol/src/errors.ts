// The one error body every Rookery HTTP endpoint returns on failure.
import { Type, type Static } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'stable machine-readable code, e.g. not_found, validation_failed' }),
    message: Type.String({ description: 'human-readable explanation' }),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'structured context; {} when none' }),
  },
  { $id: 'ErrorBody', title: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBody>;
