/** A refused WebRTC offer, in its own module so the API and the service can name it without loading werift. */

/** A refused offer: the HTTP status and SRS-style code the API answers with. */
export class RtcRefused extends Error {
  constructor(message: string, readonly status: number, readonly code: number) {
    super(message);
  }
}
