-- Changes whose webhook events are still to be rendered (issue 19): the change's transaction
-- writes one narrow row per (team, type) listing the keys or members it changed; the dispatcher
-- renders the events and their deliveries after commit, a bounded batch per transaction. A bulk
-- revocation of 10,000 keys thus adds one row to its transaction, not 10,000 bodies.
CREATE TABLE "WebhookOutbox" (
    "id" TEXT NOT NULL,
    "teamId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "actorType" "AuditActorType" NOT NULL,
    "actorId" TEXT,
    "actorKeyHint" TEXT,
    "reason" TEXT,
    "targetIds" TEXT[],
    CONSTRAINT "WebhookOutbox_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "WebhookOutbox_at_id_idx" ON "WebhookOutbox"("at", "id");
