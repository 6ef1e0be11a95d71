-- Expiry reminders (SPEC §5): each team chooses its thresholds (days before a key's effective
-- expiry; [] = off), and every reminder threshold a key has reached is recorded, so that no
-- instance, run or restart reminds a key twice for one threshold.
ALTER TABLE "Team" ADD COLUMN "expiryReminderDays" INTEGER[] NOT NULL DEFAULT ARRAY[7, 1]::INTEGER[];

-- One row per key and threshold: the expiry it was reached for. A later expiry (moved later)
-- re-arms the threshold; the same or an earlier one does not. `notified` is false for the larger
-- thresholds of a key that was already inside a smaller one when first seen (recorded as done,
-- no reminder of their own).
CREATE TABLE "ExpiryReminder" (
    "keyId" TEXT NOT NULL,
    "thresholdDays" INTEGER NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "notified" BOOLEAN NOT NULL,
    "reachedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ExpiryReminder_pkey" PRIMARY KEY ("keyId", "thresholdDays")
);

ALTER TABLE "ExpiryReminder" ADD CONSTRAINT "ExpiryReminder_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey"("id") ON DELETE CASCADE ON UPDATE CASCADE;
