package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quiver's SQL only reads: updates are refused with a read-only error, and everything
 * the sandbox refuses (writing files, changing the catalog or settings, attaching
 * databases) reaches the JDBC user as an SQLException, leaving no trace.
 */
class ReadOnlyTest {
  private static Connection conn;
  private List<String> rootBefore;

  @BeforeAll
  static void connect() throws SQLException {
    conn = Quiver.connect();
  }

  @BeforeEach
  void listRootBefore() throws IOException {
    rootBefore = listRoot();
  }

  @AfterAll
  static void close() throws SQLException {
    if (conn != null) {
      conn.close();
    }
  }

  /** After every refusal the datasets are as seeded and the root holds no new file. */
  @AfterEach
  void nothingChanged() throws SQLException, IOException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM sales")) {
      assertTrue(rs.next());
      assertEquals(Seed.SALES.size(), rs.getLong(1));
    }
    assertEquals(rootBefore, listRoot(), "files in the dataset root");
    for (String name : List.of("sneaky.parquet", "x.duckdb", "export")) {
      assertFalse(Files.exists(Quiver.sqlDir().resolve(name)), name + " written in " + Quiver.sqlDir());
    }
  }

  @Test
  void executeUpdateIsRefusedAsReadOnly() {
    SQLException e =
        assertThrows(SQLException.class, () -> {
          try (Statement st = conn.createStatement()) {
            st.executeUpdate("INSERT INTO sales (id) VALUES (42)");
          }
        });
    assertReadOnly(e);
  }

  @Test
  void executeOfAnUpdateIsRefusedAsReadOnly() {
    SQLException e =
        assertThrows(SQLException.class, () -> {
          try (Statement st = conn.createStatement()) {
            st.execute("DELETE FROM sales");
          }
        });
    assertReadOnly(e);
  }

  @Test
  void preparedUpdateIsRefusedAsReadOnly() {
    SQLException e =
        assertThrows(SQLException.class, () -> {
          try (PreparedStatement ps = conn.prepareStatement("UPDATE sales SET qty = ? WHERE id = 1")) {
            ps.setInt(1, 99);
            ps.executeUpdate();
          }
        });
    assertReadOnly(e);
  }

  /**
   * Statement.executeBatch does not reach the server: the driver (18.3.0) fails with a
   * NullPointerException in Avatica's executeBatchInternal. Tools ask
   * supportsBatchUpdates() first, which is false.
   */
  @Test
  void batchFailsInTheDriver() {
    assertThrows(NullPointerException.class, () -> {
      try (Statement st = conn.createStatement()) {
        st.addBatch("INSERT INTO sales (id) VALUES (43)");
        st.executeBatch();
      }
    });
  }

  static Stream<String> sandboxRefusals() {
    String outside = Path.of(System.getProperty("java.io.tmpdir"), "quiver-jdbc-escape.parquet").toString();
    // Inside the directory DuckDB may read: the one place a write would land.
    String inside = Quiver.sqlDir().resolve("sneaky.parquet").toString();
    return Stream.of(
        "COPY sales TO '" + inside + "' (FORMAT parquet)",
        "COPY (SELECT 1 AS x) TO '" + outside + "'",
        "CREATE TABLE t AS SELECT 1 AS x",
        "CREATE OR REPLACE VIEW sales AS SELECT 1 AS x",
        "DROP VIEW sales",
        "ATTACH ':memory:' AS other",
        "ATTACH '" + Quiver.sqlDir().resolve("x.duckdb") + "' AS other",
        "DETACH memory",
        "SET threads = 1",
        "RESET threads",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('" + Quiver.sqlDir() + "/../*.parquet')",
        "SELECT 1; COPY (SELECT 1) TO '" + inside + "'",
        "EXPORT DATABASE '" + Quiver.sqlDir().resolve("export") + "'");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sandboxRefusals")
  void sandboxRefusalIsAnSQLException(String sql) {
    SQLException e =
        assertThrows(SQLException.class, () -> {
          try (Statement st = conn.createStatement();
              ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
              // A refusal may only surface when the result is read.
            }
          }
        }, sql);
    assertFalse(String.valueOf(e.getMessage()).isBlank(), "message of the refusal of " + sql);
    assertFalse(Files.exists(Path.of(System.getProperty("java.io.tmpdir"), "quiver-jdbc-escape.parquet")));
  }

  @ParameterizedTest(name = "prepared: {0}")
  @MethodSource("sandboxRefusals")
  void sandboxRefusalIsAnSQLExceptionWhenPrepared(String sql) {
    assertThrows(SQLException.class, () -> {
      try (PreparedStatement ps = conn.prepareStatement(sql);
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          // as above
        }
      }
    }, sql);
  }

  private static void assertReadOnly(SQLException e) {
    String all = messages(e).toLowerCase(Locale.ROOT);
    assertTrue(all.contains("read-only"), "the refusal should say read-only: " + all);
  }

  /** The messages of e and its causes: the driver wraps the server's status. */
  static String messages(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      sb.append(t.getMessage()).append(" | ");
    }
    return sb.toString();
  }

  private static List<String> listRoot() throws IOException {
    try (Stream<Path> s = Files.walk(Quiver.root())) {
      return s.map(p -> Quiver.root().relativize(p).toString()).sorted().toList();
    }
  }
}
