package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a JDBC user gets for DuckDB types that have no exact JDBC counterpart, with
 * flight-sql-jdbc-driver 18.3.0. These pin down the "known limits" of the README's
 * Clients table: when one fails after a driver upgrade, update the table.
 */
class DuckDBTypesTest {
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

  /**
   * Unsigned integers arrive as Arrow uint8/16/32/64; the driver maps them to the
   * signed JDBC type of the same width, so values above the signed maximum wrap
   * around. Casting to a wider signed type in SQL gives the right value.
   */
  @Test
  void unsignedIntegersWrapAroundInTheDriver() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT 200::UTINYINT AS u8, 4000000000::UINTEGER AS u32,"
                    + " 18446744073709551615::UBIGINT AS u64,"
                    + " CAST(200::UTINYINT AS SMALLINT) AS u8_cast,"
                    + " CAST(18446744073709551615::UBIGINT AS DECIMAL(20,0)) AS u64_cast")) {
      ResultSetMetaData md = rs.getMetaData();
      assertEquals(Types.TINYINT, md.getColumnType(1));
      assertEquals(Types.INTEGER, md.getColumnType(2));
      assertEquals(Types.BIGINT, md.getColumnType(3));
      assertTrue(rs.next());
      assertEquals((byte) -56, rs.getObject(1));
      assertEquals(-294967296, rs.getObject(2));
      assertEquals(-1L, rs.getObject(3));
      assertEquals((short) 200, rs.getShort(4));
      assertEquals(new BigDecimal("18446744073709551615"), rs.getBigDecimal(5));
    }
  }

  /** TIMESTAMP WITH TIME ZONE reads with getTimestamp; getObject throws in 18.3.0. */
  @Test
  void timestampWithTimeZone() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT c_timestamptz FROM types WHERE c_timestamptz IS NOT NULL")) {
      assertEquals(Types.TIMESTAMP_WITH_TIMEZONE, rs.getMetaData().getColumnType(1));
      assertTrue(rs.next());
      assertEquals(Seed.INSTANT, rs.getTimestamp(1).toInstant());
      // apache/arrow-java#839: Avatica's getObject has no case for
      // TIMESTAMP_WITH_TIMEZONE ("not implemented"); fixed after 18.3.0.
      RuntimeException e = assertThrows(RuntimeException.class, () -> rs.getObject(1));
      assertEquals("not implemented", e.getMessage());
    }
  }

  /** Nested types come back as JDBC arrays and JSON-like maps; other types as text. */
  @Test
  void nestedAndOtherTypes() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT [1, 2, NULL] AS l, {'a': 1, 'b': 'x'} AS s, MAP {'k': 1} AS m,"
                    + " 'quiver'::BLOB AS b, INTERVAL 1 DAY AS i, 12.5::DECIMAL(38,3) AS d38,"
                    + " 170141183460469231731687303715884105727::HUGEINT AS h,"
                    + " '6f9619ff-8b86-d011-b42d-00c04fc964ff'::UUID AS id")) {
      ResultSetMetaData md = rs.getMetaData();
      assertEquals(Types.ARRAY, md.getColumnType(1));
      assertEquals(Types.JAVA_OBJECT, md.getColumnType(2));
      assertEquals(Types.JAVA_OBJECT, md.getColumnType(3));
      assertEquals(Types.VARBINARY, md.getColumnType(4));
      assertEquals(Types.DECIMAL, md.getColumnType(6));
      assertEquals(Types.DECIMAL, md.getColumnType(7)); // HUGEINT is DECIMAL(38,0) in Arrow
      assertEquals(Types.VARCHAR, md.getColumnType(8)); // UUID is text in Arrow
      assertTrue(rs.next());
      Array l = rs.getArray(1);
      assertArrayEquals(new Object[] {1, 2, null}, (Object[]) l.getArray());
      Map<?, ?> s = assertInstanceOf(Map.class, rs.getObject(2));
      assertEquals(1, s.get("a"));
      assertEquals("x", String.valueOf(s.get("b")));
      Map<?, ?> m = assertInstanceOf(Map.class, rs.getObject(3));
      assertEquals(1, m.size());
      assertArrayEquals("quiver".getBytes(), rs.getBytes(4));
      assertEquals(new BigDecimal("12.500"), rs.getBigDecimal(6));
      assertEquals(new BigDecimal("170141183460469231731687303715884105727"), rs.getBigDecimal(7));
      assertEquals("6f9619ff-8b86-d011-b42d-00c04fc964ff", rs.getString(8));
    }
  }
}
