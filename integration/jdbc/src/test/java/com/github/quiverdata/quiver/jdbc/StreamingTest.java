package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A result far larger than the JVM's memory streams through the driver. Surefire runs
 * this class alone with -Xmx256m and -XX:MaxDirectMemorySize=256m (pom.xml): the result
 * below is about 10M rows of three columns, some 330 MB as Arrow buffers, so a driver
 * or server that collected it before handing out rows would fail here.
 */
class StreamingTest {
  static final long ROWS = 10_000_000L;

  @Test
  @Timeout(300)
  void tenMillionRowsStreamThroughASmallHeap() throws SQLException {
    long maxHeap = Runtime.getRuntime().maxMemory();
    assertTrue(maxHeap <= 300L << 20, "this test must run with a small heap, has " + (maxHeap >> 20) + " MiB");
    long n = 0;
    long sum = 0;
    long labels = 0;
    try (Connection conn = Quiver.connect();
        Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT i, i * 2 AS twice, 'row-' || CAST(i AS VARCHAR) AS label FROM range("
                    + ROWS + ") t(i)")) {
      while (rs.next()) {
        long i = rs.getLong(1);
        sum += i;
        if (rs.getLong(2) != 2 * i) {
          throw new AssertionError("row " + n + ": twice = " + rs.getLong(2) + ", want " + 2 * i);
        }
        labels += rs.getString(3).length();
        n++;
      }
    }
    assertEquals(ROWS, n, "rows");
    assertEquals(ROWS * (ROWS - 1) / 2, sum, "sum of i");
    assertTrue(labels > 4 * ROWS, "labels read");
  }
}
