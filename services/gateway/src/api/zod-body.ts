import type { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import type { ZodType, ZodTypeDef } from 'zod';
import { refusalFromZod } from '../security/http-errors';

/**
 * Validates a request body, query or parameter with a zod schema: the parsed value, or a 400
 * `HttpRefusal` naming the first offending field and the reason (never a 500).
 */
export class ZodBody<T> implements PipeTransform<unknown, T> {
  // Any input: a schema may turn a parameter's text into something else (a position id into its parts).
  constructor(private readonly schema: ZodType<T, ZodTypeDef, unknown>) {}
  transform(value: unknown, metadata?: ArgumentMetadata): T {
    const r = this.schema.safeParse(value ?? {});
    if (r.success) return r.data;
    // A path parameter's schema is a scalar: its issue has no path, the parameter's name is the field.
    throw refusalFromZod(r.error, metadata?.data);
  }
}
