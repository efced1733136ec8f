-- migrate:up
-- How a route's path matches a request path: 'prefix' (the path and everything below it, on
-- segment boundaries) or 'exact' (the path only, with or without one trailing slash). A public
-- route is public for its own path only unless it is explicitly a prefix: existing public routes
-- become exact, which closes the "everything under /health/ is free" leak.
CREATE TYPE "PathMatch" AS ENUM ('prefix', 'exact');
ALTER TABLE "routes" ADD COLUMN "path_match" "PathMatch" NOT NULL DEFAULT 'prefix';
UPDATE "routes" SET "path_match" = 'exact' WHERE "public";

-- migrate:down
ALTER TABLE "routes" DROP COLUMN "path_match";
DROP TYPE "PathMatch";
