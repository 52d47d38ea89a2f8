import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { GenerateTokenResponse } from "../../gen/ts/lktoken/v1/token_service_pb.js";

/**
 * The moment the token stops being accepted for joining, as a Date.
 * `res.expiresAt` itself is a protobuf Timestamp (`{ seconds: bigint, nanos }`):
 * `new Date(res.expiresAt)` is NOT a date; use this.
 *
 * @throws Error if the response has no expiresAt (lktoken always sets it).
 */
export function expiresAtDate(res: Pick<GenerateTokenResponse, "expiresAt">): Date {
  if (res.expiresAt === undefined) {
    throw new Error("lktoken web-client: the response has no expiresAt");
  }
  return timestampDate(res.expiresAt);
}
