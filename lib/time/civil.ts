/**
 * Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), in integers only: no Date, so no
 * time-zone machinery is touched. The day/civil conversions are H. Hinnant's public-domain algorithms
 * ("chrono-Compatible Low-Level Date Algorithms", days_from_civil and civil_from_days), written out here.
 */

export const SECONDS_PER_DAY = 86400;

/** A calendar date; `civilInto` fills one in place so that hot callers allocate nothing. */
export interface CivilDate {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days since 1970-01-01 of year `y`, month `m` (1-12), day `d` (1-31; larger days run into the next month). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400; // [0, 399]
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1; // [0, 365], March-based
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // [0, 146096]
  return era * 146097 + doe - 719468;
}

/** The calendar date of day number `z` (days since 1970-01-01), written into `out`. */
export function civilInto(z: number, out: CivilDate): void {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097; // [0, 146096]
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // [0, 365], March-based
  const m5 = Math.floor((5 * doy + 2) / 153); // [0, 11], 0 = March
  out.day = doy - Math.floor((153 * m5 + 2) / 5) + 1;
  out.month = m5 < 10 ? m5 + 3 : m5 - 9;
  out.year = yoe + era * 400 + (out.month <= 2 ? 1 : 0);
}

/** The calendar year of day number `z`. */
export function yearOfDay(z: number): number {
  const c: CivilDate = { year: 0, month: 0, day: 0 };
  civilInto(z, c);
  return c.year;
}

/** Day of the week of day number `z`: 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekdayOfDay(z: number): number {
  return (((z + 4) % 7) + 7) % 7;
}
