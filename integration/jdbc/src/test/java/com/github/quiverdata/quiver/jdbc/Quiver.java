package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/**
 * The Quiver server the suite runs against, as run.sh started it: {@code quiver serve
 * --root ROOT --addr 127.0.0.1:0}, with its port and root passed as the system
 * properties {@code quiver.port} and {@code quiver.root}.
 *
 * <p>The first call to {@link #connect()} seeds the datasets of {@link Seed} over plain
 * Flight DoPut, once per JVM: the JDBC driver cannot upload, and DoPut is how Quiver's
 * users put datasets.
 */
final class Quiver {
  private static boolean seeded;

  private Quiver() {}

  static int port() {
    String p = System.getProperty("quiver.port", "");
    if (p.isEmpty()) {
      fail("system property quiver.port is not set: run the suite with integration/jdbc/run.sh,"
          + " which starts `quiver serve` and passes its port");
    }
    return Integer.parseInt(p);
  }

  /** The dataset root of the running server, for checks that nothing was written. */
  static Path root() {
    String r = System.getProperty("quiver.root", "");
    if (r.isEmpty()) {
      fail("system property quiver.root is not set: run the suite with integration/jdbc/run.sh");
    }
    return Path.of(r);
  }

  /**
   * The one directory the server's DuckDB may read: the dataset root, or on an S3 root the
   * part cache (system property {@code quiver.sqlDir}; the root when unset).
   */
  static Path sqlDir() {
    String d = System.getProperty("quiver.sqlDir", "");
    return d.isEmpty() ? root() : Path.of(d);
  }

  /** The URL a user types: TLS is the driver's default, and Quiver here runs without it. */
  static String url() {
    return "jdbc:arrow-flight-sql://127.0.0.1:" + port() + "/?useEncryption=false";
  }

  /** A new connection to the seeded server. */
  static Connection connect() throws SQLException {
    seed();
    return DriverManager.getConnection(url());
  }

  static synchronized void seed() {
    if (seeded) {
      return;
    }
    try {
      Seed.putAll("127.0.0.1", port());
    } catch (Exception e) {
      throw new AssertionError("seeding datasets over Flight DoPut failed", e);
    }
    seeded = true;
  }
}
