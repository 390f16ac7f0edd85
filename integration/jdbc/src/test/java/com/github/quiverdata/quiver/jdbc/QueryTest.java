package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.quiverdata.quiver.jdbc.Seed.Sale;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Statement and PreparedStatement queries, and the Java values ResultSet getters give. */
class QueryTest {
  private static Connection conn;

  @BeforeAll
  static void connect() throws SQLException {
    conn = Quiver.connect();
  }

  @AfterAll
  static void close() throws SQLException {
    if (conn != null) {
      conn.close();
    }
  }

  @Test
  void selectOne() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT 1 AS one, 'a' AS s")) {
      assertTrue(rs.next());
      assertEquals(1, rs.getInt("one"));
      assertEquals("a", rs.getString(2));
      assertFalse(rs.next());
    }
  }

  @Test
  void salesGetters() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT id, region, amount, qty, sold_on, sold_at, paid, price"
                    + " FROM sales ORDER BY id")) {
      for (Sale want : Seed.SALES) {
        assertTrue(rs.next(), "row " + want.id());
        String row = "row " + want.id();
        assertEquals(want.id().longValue(), rs.getLong("id"), row);
        assertEquals(want.region(), rs.getString("region"), row);
        if (want.region() == null) {
          // Every getter of a NULL gives the type's null or zero, and wasNull says so.
          assertEquals(0.0, rs.getDouble("amount"));
          assertTrue(rs.wasNull());
          assertEquals(0, rs.getInt("qty"));
          assertTrue(rs.wasNull());
          assertNull(rs.getDate("sold_on"));
          assertNull(rs.getTimestamp("sold_at"));
          assertFalse(rs.getBoolean("paid"));
          assertTrue(rs.wasNull());
          assertNull(rs.getBigDecimal("price"));
          assertNull(rs.getObject("price"));
          continue;
        }
        assertEquals(want.amount(), rs.getDouble("amount"), 0.0, row);
        assertFalse(rs.wasNull());
        assertEquals(want.qty().intValue(), rs.getInt("qty"), row);
        assertEquals(want.soldOn(), rs.getDate("sold_on").toLocalDate(), row);
        assertEquals(want.soldAt(), rs.getTimestamp("sold_at").toLocalDateTime(), row);
        assertEquals(want.paid(), rs.getBoolean("paid"), row);
        assertEquals(want.price(), rs.getBigDecimal("price"), row);

        // getObject gives the JDBC default Java class of each column's type.
        assertEquals(want.id(), assertInstanceOf(Long.class, rs.getObject("id")), row);
        assertEquals(want.region(), assertInstanceOf(String.class, rs.getObject("region")));
        assertEquals(want.amount(), assertInstanceOf(Double.class, rs.getObject("amount")));
        assertEquals(want.qty(), assertInstanceOf(Integer.class, rs.getObject("qty")));
        assertEquals(want.paid(), assertInstanceOf(Boolean.class, rs.getObject("paid")));
        assertEquals(want.price(), assertInstanceOf(BigDecimal.class, rs.getObject("price")));
        assertEquals(want.soldOn(),
            assertInstanceOf(java.sql.Date.class, rs.getObject("sold_on")).toLocalDate());
        assertEquals(want.soldAt(),
            assertInstanceOf(java.sql.Timestamp.class, rs.getObject("sold_at")).toLocalDateTime());
      }
      assertFalse(rs.next());
    }
  }

  @Test
  void resultSetMetaData() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT id, region, amount, qty, sold_on, sold_at, paid, price FROM sales")) {
      ResultSetMetaData md = rs.getMetaData();
      assertEquals(8, md.getColumnCount());
      int[] want = {Types.BIGINT, Types.VARCHAR, Types.DOUBLE, Types.INTEGER, Types.DATE,
          Types.TIMESTAMP, Types.BOOLEAN, Types.DECIMAL};
      int[] got = new int[want.length];
      for (int i = 0; i < want.length; i++) {
        got[i] = md.getColumnType(i + 1);
      }
      assertArrayEquals(want, got);
      assertEquals("region", md.getColumnName(2));
      assertEquals(Seed.PRICE_PRECISION, md.getPrecision(8));
      assertEquals(Seed.PRICE_SCALE, md.getScale(8));
    }
  }

  @Test
  void aggregate() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT region, count(*) AS n, sum(amount) AS total FROM sales"
                    + " WHERE region IS NOT NULL GROUP BY region ORDER BY region")) {
      List<String> got = new ArrayList<>();
      while (rs.next()) {
        got.add(rs.getString(1) + "=" + rs.getLong(2) + "/" + rs.getDouble(3));
      }
      assertEquals(List.of("north=2/6.75", "south=1/20.25", "wëst — 東=1/0.0"), got);
    }
  }

  @Test
  void rareTypes() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT c_tinyint, c_smallint, c_real, c_time, c_timestamptz, c_blob"
                    + " FROM types ORDER BY c_tinyint NULLS LAST")) {
      assertTrue(rs.next());
      assertEquals(Seed.TINY, rs.getByte(1));
      assertEquals(Seed.SMALL, rs.getShort(2));
      assertEquals(Seed.REAL, rs.getFloat(3), 0.0f);
      assertEquals(Seed.TIME.withNano(0), rs.getTime(4).toLocalTime());
      assertEquals(Seed.INSTANT, rs.getTimestamp(5).toInstant());
      assertArrayEquals(Seed.BLOB, rs.getBytes(6));
      assertTrue(rs.next());
      for (int i = 1; i <= 6; i++) {
        if (i == 5) {
          assertNull(rs.getTimestamp(i), "TIMESTAMPTZ of the null row");
          continue; // getObject on TIMESTAMPTZ: see DuckDBTypesTest
        }
        assertNull(rs.getObject(i), "column " + i + " of the null row");
      }
      assertFalse(rs.next());
    }
  }

  @Test
  void preparedWithParameters() throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "SELECT id, region FROM sales WHERE id = ? OR region = ? ORDER BY id")) {
      assertEquals(2, ps.getParameterMetaData().getParameterCount());
      ps.setLong(1, 2);
      ps.setString(2, "north");
      assertEquals(List.of("1 north", "2 south", "3 north"), rows(ps));

      // The same statement again with other values.
      ps.setLong(1, 4);
      ps.setString(2, "nowhere");
      assertEquals(List.of("4 wëst — 東"), rows(ps));
    }
  }

  @Test
  void preparedWithTypedParameters() throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "SELECT count(*) FROM sales WHERE amount > ? AND paid = ? AND sold_on >= ?"
                + " AND price < ?")) {
      ps.setDouble(1, 0.0);
      ps.setBoolean(2, true);
      ps.setDate(3, java.sql.Date.valueOf("2024-01-01"));
      // The driver binds a BigDecimal only at the parameter's exact scale (DECIMAL(10,2)
      // here): new BigDecimal("100") fails in the driver with "BigDecimal scale must
      // equal that in the Arrow vector: 0 != 2".
      ps.setBigDecimal(4, new BigDecimal("100.00"));
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        assertEquals(1, rs.getLong(1)); // id 1 only
      }
    }
  }

  @Test
  void preparedWithoutParameters() throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement("SELECT count(*) FROM sales")) {
      for (int i = 0; i < 2; i++) {
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertEquals(Seed.SALES.size(), rs.getLong(1));
        }
      }
    }
  }

  /**
   * A query that fails while it runs (not while it is planned) reports DuckDB's error,
   * not a cancellation: JDBC users see why their query failed.
   */
  @Test
  void runtimeErrorCarriesDuckDBsMessage() {
    for (String sql : List.of(
        "SELECT CAST(region AS INTEGER) FROM sales", "SELECT error('boom from the test')")) {
      SQLException e =
          org.junit.jupiter.api.Assertions.assertThrows(SQLException.class, () -> {
            try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
              while (rs.next()) {
                // the error comes while the result is produced
              }
            }
          });
      String all = ReadOnlyTest.messages(e);
      assertFalse(all.contains("context canceled"), sql + ": " + all);
      assertTrue(all.contains("Conversion Error") || all.contains("boom from the test"), sql + ": " + all);
    }
  }

  private static List<String> rows(PreparedStatement ps) throws SQLException {
    List<String> got = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        got.add(rs.getLong(1) + " " + rs.getString(2));
      }
    }
    return got;
  }
}
